"""The shipped Collector config, validated by a Collector built with the image's components."""

from __future__ import annotations

import subprocess

import yaml

from devtools.harness import COLLECTOR_CONFIG, REPO_ROOT, binary

MANIFEST = REPO_ROOT / "deploy" / "collector" / "builder-config.yaml"
COMPOSE = REPO_ROOT / "docker-compose.yml"


def test_the_collector_validates_the_shipped_config() -> None:
    run = subprocess.run(
        [str(binary("otelcol")), "validate", "--config", str(COLLECTOR_CONFIG)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_built_collector_matches_the_compose_image_version() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    version = manifest["dist"]["version"].removeprefix("v")
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    image = services["otel-collector"]["image"]
    assert image == f"otel/opentelemetry-collector-contrib:{version}"
