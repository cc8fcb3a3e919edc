"""The Helm chart: settings coverage, schema strictness and the render-time rules.

The strict decoding of every rendered object into the Kubernetes, Prometheus Operator and
KEDA API types is the Go test of ``deploy/helm/validate`` (``make test-helm``); these tests
cover what ties the chart to the worker: every setting is a value, every value the chart
renders is one the worker accepts, and every wrong value fails ``helm template`` with a
message naming it. No cluster is involved.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.harness import binary
from worker.settings import RuntimeSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "livekit-agent-worker"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DEPLOYMENT = CHART / "templates" / "deployment.yaml"

# Objects of Kubernetes types passed through as they are; the Go test decodes them strictly.
PASSTHROUGH = {
    "global",
    "podSecurityContext",
    "securityContext",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "extraEnv.valueFrom",
}
# Set by the chart for the SDK or for OTEL_RESOURCE_ATTRIBUTES, not worker settings.
NOT_SETTINGS = {"NUM_CPUS", "POD_NAME", "POD_NAMESPACE", "NODE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}
# Standard variables the OpenTelemetry SDK reads itself (RuntimeSettings lists them in a
# comment of .env.example, not as fields).
OTEL_SPEC_ONLY = {"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"}


def _template_env_names() -> set[str]:
    return set(re.findall(r"^\s+- name: ([A-Z][A-Z0-9_]+)$", DEPLOYMENT.read_text(), re.M))


def _helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("helm")), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _render(*args: str) -> list[dict[str, Any]]:
    proc = _helm("template", "voice", str(CHART), "--namespace", "voice", *args)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def _loose_objects(node: dict[str, Any], path: str = "") -> list[str]:
    """Schema objects that accept keys they do not declare, by dotted path."""
    loose = []
    if node.get("type") == "object" and node.get("additionalProperties", True) is True:
        loose.append(path)
    for key, child in node.get("properties", {}).items():
        loose += _loose_objects(child, f"{path}.{key}".lstrip("."))
    if isinstance(node.get("items"), dict):
        loose += _loose_objects(node["items"], path)
    return loose


# ------------------------------------------------------------------------- no helm needed


def test_every_worker_setting_is_set_by_the_chart() -> None:
    env = _template_env_names()
    missing = set(RuntimeSettings.model_fields) - env
    assert not missing, f"settings the chart cannot set: {sorted(missing)}"
    assert env - set(RuntimeSettings.model_fields) == NOT_SETTINGS | OTEL_SPEC_ONLY


def test_extra_env_refuses_exactly_the_variables_the_chart_sets() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    match = re.search(r'define "law.managedEnv" -}}\n(.*?)\n', helpers)
    assert match is not None
    assert set(match.group(1).split()) == _template_env_names()


def test_schema_declares_every_key_of_chart_owned_objects() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert set(_loose_objects(schema)) == PASSTHROUGH


def _leaf_paths(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in _leaf_paths(child, f"{path}.{key}")]
    return [path.lstrip(".")]


@pytest.mark.parametrize(
    "values", [CHART / "values.yaml", PRODUCTION_VALUES], ids=["default", "prod"]
)
def test_values_name_a_secret_never_hold_one(values: Path) -> None:
    leaves = _leaf_paths(yaml.safe_load(values.read_text()))
    sensitive = [p for p in leaves if re.search(r"secret|password|token|apikey", p, re.I)]
    # names of Secrets and of keys inside them: references, never the values
    assert set(sensitive) <= {
        "imagePullSecrets",
        "livekit.credentialsSecret.name",
        "livekit.credentialsSecret.apiKeyKey",
        "livekit.credentialsSecret.apiSecretKey",
        "voice.keysSecret.name",
        "voice.keysSecret.deepgramKey",
        "voice.keysSecret.openaiKey",
        "voice.keysSecret.cartesiaKey",
    }


# ---------------------------------------------------------------------------- with helm


def _deployment_env(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


@pytest.mark.integration
def test_the_voice_pipeline_reads_its_provider_keys_from_a_secret() -> None:
    off = _deployment_env(_render())
    on = _deployment_env(_render("--set", "voice.enabled=true"))

    assert off["VOICE_PIPELINE"]["value"] == "off"
    assert not {"DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"} & set(off)
    assert on["VOICE_PIPELINE"]["value"] == "on"
    for name in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        assert on[name] == {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {"name": "voice-livekit-agent-worker-voice", "key": name}
            },
        }


@pytest.mark.integration
@pytest.mark.parametrize("values", [(), ("-f", str(PRODUCTION_VALUES))], ids=["default", "prod"])
def test_rendered_settings_are_accepted_by_the_worker(values: tuple[str, ...]) -> None:
    env = _deployment_env(_render(*values))
    assert env["LIVEKIT_API_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
    literal = {
        name: e["value"]
        for name, e in env.items()
        if "value" in e and name in RuntimeSettings.model_fields
    }
    # the Secret's values, which Kubernetes would fill in
    literal |= {"LIVEKIT_API_KEY": "APIkey", "LIVEKIT_API_SECRET": "a-secret"}
    settings = RuntimeSettings(_env_file=None, **literal)  # type: ignore[call-arg]
    settings.check_production()
    assert settings.BIND_HOST == "0.0.0.0"
    assert str(settings.PROMETHEUS_MULTIPROC_DIR) == "/var/run/livekit-agent-worker/metrics"
    assert settings.WORKER_DRAIN_TIMEOUT in (600, 1800)


@pytest.mark.integration
def test_lint_strict_passes() -> None:
    for values in ((), ("-f", str(PRODUCTION_VALUES))):
        proc = _helm("lint", "--strict", str(CHART), *values)
        assert proc.returncode == 0, proc.stdout + proc.stderr


WRONG_VALUES = {
    "string port": (
        ["--set-string", "ports.health=8081"],
        "'/ports/health': got string, want integer",
    ),
    "unknown key": (["--set", "podMonitor.intervall=30s"], "additional properties 'intervall'"),
    "secret as a value": (
        ["--set", "livekit.apiSecret=s3cr3t"],
        "'/livekit': additional properties 'apiSecret' not allowed",
    ),
    "grace shorter than drain": (
        ["--set", "rollout.terminationGracePeriodSeconds=300"],
        "rollout.terminationGracePeriodSeconds (300) is shorter than "
        "rollout.drainTimeoutSeconds (600)",
    ),
    "grace without margin": (
        ["--set", "rollout.drainTimeoutSeconds=900,rollout.terminationGracePeriodSeconds=905"],
        "= 935: Kubernetes would kill calls the worker is still draining",
    ),
    "endless drain": (["--set", "rollout.drainTimeoutSeconds=0"], "'/rollout/drainTimeoutSeconds'"),
    "margin too short": (["--set", "rollout.shutdownMarginSeconds=5"], "shutdownMarginSeconds"),
    "same ports": (["--set", "ports.metrics=8081"], "ports.health and ports.metrics must differ"),
    "log level": (["--set", "logging.level=verbose"], "'/logging/level'"),
    "url without scheme": (["--set", "livekit.url=livekit:7880"], "'/livekit/url'"),
    "managed variable in extraEnv": (
        ["--set", "extraEnv[0].name=WORKER_DRAIN_TIMEOUT,extraEnv[0].value=x"],
        "extraEnv: WORKER_DRAIN_TIMEOUT is set by the chart",
    ),
    "both budgets": (
        ["--set", "podDisruptionBudget.minAvailable=1"],
        "set exactly one of minAvailable and maxUnavailable",
    ),
    "scale to zero": (
        ["--set", "autoscaling.enabled=true,autoscaling.minReplicas=0"],
        "'/autoscaling/minReplicas'",
    ),
    "min above max": (
        ["--set", "autoscaling.enabled=true,autoscaling.minReplicas=5,autoscaling.maxReplicas=3"],
        "autoscaling.minReplicas (5) is greater than autoscaling.maxReplicas (3)",
    ),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(WRONG_VALUES))
def test_wrong_values_fail_template_naming_the_value(case: str) -> None:
    args, message = WRONG_VALUES[case]
    proc = _helm("template", "voice", str(CHART), *args)
    assert proc.returncode != 0, f"{case}: rendered without error"
    assert message in proc.stderr, proc.stderr
