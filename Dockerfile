# Container image for the livekit-agent-worker: runtime deps from poetry.lock, runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build: resolve deps into /app/.venv
FROM ${PYTHON_IMAGE} AS build

# Same Poetry release that wrote poetry.lock.
ARG POETRY_VERSION=2.5.1
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_CACHE_DIR=/tmp/poetry-cache

RUN pip install "poetry==${POETRY_VERSION}"

WORKDIR /app

# Dependencies first, so source edits do not invalidate this layer.
COPY pyproject.toml poetry.lock README.md ./
RUN poetry install --only main --no-root --no-ansi && rm -rf "${POETRY_CACHE_DIR}"

COPY worker ./worker
COPY telemetry ./telemetry
# Installs the project itself (its metadata gives agent_worker_build_info its version).
RUN poetry install --only main --no-ansi && rm -rf "${POETRY_CACHE_DIR}"

# ---------------------------------------------------------------- runtime: no Poetry, no build tools
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" agent \
    && useradd --system --uid "${APP_UID}" --gid agent --home-dir /home/agent --create-home agent

WORKDIR /app
# Same path as in the build stage: the venv's scripts and the project's .pth point at /app.
# Owned by root, so the runtime user cannot modify the code it runs.
COPY --from=build /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BIND_HOST=0.0.0.0 \
    HEALTH_PORT=8081 \
    METRICS_PORT=9464

USER agent

# 8081: health (/ and /worker); 9464: Prometheus /metrics.
EXPOSE 8081 9464

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "worker.health", "--url", "http://127.0.0.1:8081/", "--timeout", "2"]

CMD ["python", "-m", "worker", "start"]
