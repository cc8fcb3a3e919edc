# Tasks of the LiveKit agent worker; run `make help` to list them. All run from the repo root.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE ?= $(or $(LKAW_INFRA_CACHE),$(HOME)/.cache/livekit-agent-worker)
POETRY_VERSION := 2.5.1
POETRY_HOME := $(CACHE)/poetry/$(POETRY_VERSION)
POETRY := $(POETRY_HOME)/bin/poetry
VENV := .venv
PY := $(VENV)/bin/python
COMPOSE ?= docker compose
PYTEST_ARGS ?=

export POETRY_VIRTUALENVS_IN_PROJECT := true
export POETRY_NO_INTERACTION := 1

.PHONY: help agent-install agent-dev agent-start agent-lint agent-format agent-typecheck \
	test test-unit test-helm dashboards health livekit-server infra \
	stack-up stack-down stack-logs stack-ps \
	demo-traffic agent-dev-voice demo-voice bench bench-profile bench-voice bench-faults

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(POETRY):
	python3 -m venv $(POETRY_HOME)
	$(POETRY_HOME)/bin/pip install --quiet poetry==$(POETRY_VERSION)

$(VENV)/.installed: pyproject.toml poetry.lock | $(POETRY)
	$(POETRY) install
	@touch $@

agent-install: $(VENV)/.installed ## Install the worker and its dev tools into .venv (Poetry)

# Grafana's TraceQL grammar for the fast tests' query check, from the committed lock file.
TRACEQL := devtools/traceql
$(TRACEQL)/node_modules/.installed: $(TRACEQL)/package.json $(TRACEQL)/package-lock.json
	npm ci --no-audit --no-fund --prefix $(TRACEQL)
	@touch $@

agent-dev: agent-install ## Run the worker in dev mode, reloading on code changes; starts a local LiveKit dev server if needed
	$(PY) -m devtools.devserver ensure
	$(VENV)/bin/watchfiles --filter python --sigint-timeout 15 "$(PY) -m worker dev" worker telemetry

agent-start: agent-install ## Run the worker in production mode
	$(PY) -m worker start

agent-lint: agent-install ## Lint with ruff
	$(VENV)/bin/ruff check worker telemetry devtools bench tests

agent-format: agent-install ## Format with black (and sort imports with ruff)
	$(VENV)/bin/ruff check --select I --fix worker telemetry devtools bench tests
	$(VENV)/bin/black worker telemetry devtools bench tests

agent-typecheck: agent-install ## Type-check with mypy (strict)
	$(VENV)/bin/mypy

infra: ## Build or install livekit-server, the OpenTelemetry Collector and Prometheus (once per machine)
	scripts/ensure-infra.sh all

test: agent-install $(TRACEQL)/node_modules/.installed infra test-helm ## Run every test: the chart, unit, then real livekit-server/Collector/Prometheus
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-unit: agent-install $(TRACEQL)/node_modules/.installed ## Run the fast tests only (no servers)
	scripts/ensure-infra.sh espeak-ng >/dev/null
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

dashboards: agent-install ## Regenerate dashboards/, the Prometheus rules and the README metric table
	$(PY) -m devtools.observability

CHART := deploy/helm/livekit-agent-worker
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)

test-helm: ## Check the Helm chart without a cluster: helm lint, then the Go test decoding every rendered object strictly
	@helm="$$(scripts/ensure-infra.sh helm)" && \
	"$$helm" lint --strict $(CHART) && \
	"$$helm" lint --strict $(CHART) -f $(CHART)/ci/production-values.yaml && \
	cd deploy/helm/validate && HELM="$$helm" $(GO) test -count=1 ./...

health: agent-install ## Probe the running worker's health endpoint
	$(PY) -m worker.health --info

livekit-server: ## Run a local LiveKit dev server in the foreground (devkey/secret, loopback)
	"$$(scripts/ensure-infra.sh livekit-server)" --dev --bind 127.0.0.1 --node-ip 127.0.0.1

stack-up: ## Start the observability stack (docker compose)
	$(COMPOSE) up -d --wait

stack-down: ## Stop the observability stack
	$(COMPOSE) down

stack-logs: ## Follow the stack's logs
	$(COMPOSE) logs -f --tail=100

stack-ps: ## Show the stack's services
	$(COMPOSE) ps

demo-traffic: agent-install ## Synthetic participants publish a tone in a few rooms, for a bounded time
	$(PY) -m devtools.demo_traffic

agent-dev-voice: agent-install ## make agent-dev with VOICE_PIPELINE=on, pointed at demo-voice's local provider fakes (no keys)
	env $$($(PY) -m devtools.demo_voice --worker-env) $(MAKE) agent-dev

demo-voice: agent-install ## A spoken conversation with the voice agent, against local provider fakes (run agent-dev-voice first)
	$(PY) -m devtools.demo_voice

bench-voice: agent-install infra ## Voice telemetry on vs off: e2e latency and CPU per turn with 95 % intervals; writes bench/results/voice.*
	$(PY) -m bench.voice

bench: agent-install infra ## Benchmark against the bare SDK; writes bench/results/
	$(PY) -m bench

bench-faults: agent-install infra ## The collector-fault latency targets with the probe rooms they need; writes bench/results/faults.*
	$(PY) -m bench.faults

bench-profile: agent-install infra ## Where a job's CPU goes: bare vs ours, sampled with py-spy
	$(PY) -m bench.profile --py-spy

.PHONY: bench-fleet
bench-fleet: agent-install infra ## 3 workers on a 2-node cluster vs 1 on 1 node; writes bench/results/fleet.*
	$(PY) -m bench.fleet
