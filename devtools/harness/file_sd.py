"""File-based service discovery: the shipped fleet config, pointed at files a test writes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .paths import REPO_ROOT

__all__ = ["FLEET_CONFIG", "fleet_config", "write_targets"]

FLEET_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus-fleet.yml"
"""The shipped Prometheus config for a fleet, with ``file_sd_configs``."""


def write_targets(path: Path, groups: Sequence[tuple[Sequence[str], Mapping[str, str]]]) -> None:
    """Writes a file_sd target file atomically (Prometheus never reads half of it).

    Args:
        path: The JSON file a ``file_sd_configs`` entry names.
        groups: ``(targets, labels)`` pairs; ``targets`` are ``host:port``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    body = [{"targets": list(targets), "labels": dict(labels)} for targets, labels in groups]
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(body, indent=2))
    os.replace(partial, path)


def fleet_config(
    targets_dir: Path, *, interval: float = 1.0, shipped: Path = FLEET_CONFIG
) -> dict[str, Any]:
    """The shipped fleet config with its discovery files under ``targets_dir``.

    Rule files become absolute paths; every interval (scrape, evaluation, discovery refresh)
    becomes ``interval`` so that a test sees changes within seconds; only the discovered jobs
    are kept.

    Args:
        targets_dir: Where the test writes ``<job>/*.json``.
        interval: Seconds.
        shipped: The config to start from.

    Returns:
        The configuration, for ``Prometheus(config=...)``.
    """
    config: dict[str, Any] = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    every = f"{max(1, round(interval * 1000))}ms"
    config["global"].update(scrape_interval=every, scrape_timeout=every, evaluation_interval=every)
    config["rule_files"] = [str((shipped.parent / f).resolve()) for f in config["rule_files"]]
    # only the discovered jobs: a static target such as Prometheus itself has no place here
    config["scrape_configs"] = [j for j in config["scrape_configs"] if "file_sd_configs" in j]
    for job in config["scrape_configs"]:
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(targets_dir / job["job_name"] / "*.json")]
            sd["refresh_interval"] = every
    return config
