"""Dashboards, Prometheus rules and the README metric table, generated from the catalogue.

``python -m devtools.observability`` (``make dashboards``) writes every output; a fast test
regenerates them in memory and fails when a committed file differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import fleet, livekit_server, room_inspection, rules, voice_pipeline, worker_overview
from .panels import render
from .readme import update_readme

__all__ = ["GENERATED", "REPO_ROOT", "generate", "stale"]

REPO_ROOT = Path(__file__).resolve().parents[2]

GENERATED: dict[str, Callable[[], str]] = {
    "dashboards/worker-overview.json": lambda: render(worker_overview.build()),
    "dashboards/room-inspection.json": lambda: render(room_inspection.build()),
    "dashboards/livekit-server.json": lambda: render(livekit_server.build()),
    "dashboards/voice-pipeline.json": lambda: render(voice_pipeline.build()),
    "deploy/prometheus/rules/recording.yml": rules.render_recording,
    "deploy/prometheus/rules/alerts.yml": rules.render_alerts,
    # the fleet: many workers on a LiveKit cluster
    "dashboards/fleet.json": lambda: render(fleet.build()),
    "deploy/prometheus/rules/fleet.yml": fleet.render_fleet_alerts,
}
"""Generated files (relative to the repository root) and how each is produced."""

README = "README.md"


def generate(root: Path = REPO_ROOT) -> dict[str, str]:
    """Every generated file's expected content, the README included, by relative path."""
    outputs = {path: produce() for path, produce in GENERATED.items()}
    outputs[README] = update_readme((root / README).read_text(encoding="utf-8"))
    return outputs


def stale(root: Path = REPO_ROOT) -> list[str]:
    """The generated files whose committed content differs from a fresh generation."""
    return [
        path
        for path, content in generate(root).items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != content
    ]
