"""`python -m worker`: every configuration problem a user can cause is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.harness import free_port, free_ports, occupied_port
from worker.settings import RuntimeSettings


def _run(
    env: dict[str, str], command: str = "dev", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in RuntimeSettings.model_fields}
    clean["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "worker", command],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("env", "command", "expected"),
    [
        ({"LOG_LEVEL": "LOUD"}, "dev", "LOG_LEVEL"),
        ({"LIVEKIT_URL": "localhost:7880"}, "dev", "LIVEKIT_URL: must be a ws/wss/http/https URL"),
        ({"LIVEKIT_API_SECRET": ""}, "dev", "LIVEKIT_API_SECRET: must not be empty"),
        (
            {"HEALTH_PORT": "9100", "METRICS_PORT": "9100"},
            "dev",
            "HEALTH_PORT and METRICS_PORT must differ",
        ),
        ({"HEALTH_PORT": "0"}, "dev", "HEALTH_PORT"),
        ({"METRICS_PORT": "65536"}, "dev", "METRICS_PORT"),
        ({"WORKER_NUM_IDLE_PROCESSES": "-2"}, "dev", "WORKER_NUM_IDLE_PROCESSES"),
        ({"LOG_FORMAT": "yaml"}, "dev", "LOG_FORMAT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "dev", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, "dev", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "dev", "OTEL_TRACES_EXPORTER"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/dev/null/metrics"}, "dev", "PROMETHEUS_MULTIPROC_DIR"),
        ({}, "start", "refused in production mode"),
        (
            {"VOICE_PIPELINE": "on", "OPENAI_API_KEY": "k1", "CARTESIA_API_KEY": "k2"},
            "dev",
            "DEEPGRAM_API_KEY: must be set when VOICE_PIPELINE=on",
        ),
        (
            {
                "VOICE_PIPELINE": "on",
                "DEEPGRAM_API_KEY": "k",
                "OPENAI_API_KEY": " ",
                "CARTESIA_API_KEY": "k",
            },
            "dev",
            "OPENAI_API_KEY: must be set",
        ),
        ({"VOICE_PIPELINE": "yes"}, "dev", "VOICE_PIPELINE"),
        ({"VOICE_LLM_BASE_URL": "localhost:8000"}, "dev", "VOICE_LLM_BASE_URL"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    env: dict[str, str], command: str, expected: str, tmp_path: Path
) -> None:
    health, metrics = free_ports(2)
    ports = {"HEALTH_PORT": str(health), "METRICS_PORT": str(metrics)}
    run = _run({**ports, **env}, command, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert run.stdout == ""


def test_port_already_in_use(tmp_path: Path) -> None:
    with occupied_port() as port:
        run = _run({"HEALTH_PORT": str(port), "METRICS_PORT": str(free_port())}, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: HEALTH_PORT: port {port} on 127.0.0.1 is already in use"


def test_the_secret_is_not_echoed_in_errors(tmp_path: Path) -> None:
    run = _run({"LIVEKIT_API_SECRET": "top-secret-value-0042", "LOG_LEVEL": "LOUD"}, cwd=tmp_path)
    assert run.returncode == 2
    assert "top-secret-value-0042" not in run.stderr + run.stdout


def test_the_provider_keys_are_not_echoed_in_errors(tmp_path: Path) -> None:
    keys = {"OPENAI_API_KEY": "sk-secret-0042", "CARTESIA_API_KEY": "cart-secret-0042"}
    run = _run({"VOICE_PIPELINE": "on", **keys}, cwd=tmp_path)
    assert run.returncode == 2
    assert "DEEPGRAM_API_KEY" in run.stderr
    assert "secret-0042" not in run.stderr + run.stdout
