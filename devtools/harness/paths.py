"""Where the repository and the stack configs the harness runs are."""

from __future__ import annotations

from pathlib import Path

__all__ = ["COLLECTOR_CONFIG", "ENSURE_INFRA", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ENSURE_INFRA = REPO_ROOT / "scripts" / "ensure-infra.sh"
COLLECTOR_CONFIG = REPO_ROOT / "deploy" / "collector" / "config.yaml"
