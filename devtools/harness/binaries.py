"""The infra binaries: livekit-server, the Collector, Prometheus and promtool.

``scripts/ensure-infra.sh`` builds or installs each once per machine into a cache outside
the repository and prints its path; this module is the only place that asks it.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from .paths import ENSURE_INFRA, REPO_ROOT

__all__ = ["PromtoolMissingError", "binary", "find_promtool", "run_promtool"]

# A cold build of livekit-server or the Collector takes minutes; a wedged one must still end.
_ENSURE_TIMEOUT_S = 2400.0
_STDERR_TAIL_LINES = 60


class PromtoolMissingError(RuntimeError):
    """promtool is not installed and cannot be installed."""


@functools.cache
def binary(component: str) -> Path:
    """Returns the path of an infra binary, building or installing it first if needed.

    Args:
        component: One of ``livekit-server``, ``otelcol``, ``prometheus``, ``promtool``.

    Returns:
        Absolute path of the executable (cached for the rest of the process).

    Raises:
        RuntimeError: If ``scripts/ensure-infra.sh`` fails or prints no usable path.
    """
    try:
        proc = subprocess.run(
            ["bash", str(ENSURE_INFRA), component],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=_ENSURE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"scripts/ensure-infra.sh {component} did not finish in {_ENSURE_TIMEOUT_S:.0f}s"
        ) from exc
    lines = proc.stdout.strip().splitlines()
    path = Path(lines[-1]) if lines else None
    if proc.returncode != 0 or path is None or not os.access(path, os.X_OK):
        stderr_tail = "\n".join(proc.stderr.splitlines()[-_STDERR_TAIL_LINES:])
        raise RuntimeError(
            f"scripts/ensure-infra.sh {component} failed (exit {proc.returncode}, "
            f"stdout {proc.stdout.strip()!r}); required infra is missing.\n{stderr_tail}"
        )
    return path


def find_promtool() -> str:
    """Path of ``promtool``: ``$PROMTOOL`` if set, else the one ``scripts/ensure-infra.sh``
    finds on ``PATH`` or installs.

    Raises:
        PromtoolMissingError: ``$PROMTOOL`` names no file, or ensure-infra.sh failed.
    """
    # The harness is not the worker: its settings class does not cover the test tools.
    configured = os.environ.get("PROMTOOL")
    if configured:
        if not Path(configured).is_file():
            raise PromtoolMissingError(f"PROMTOOL={configured} does not exist")
        return configured
    try:
        return str(binary("promtool"))
    except RuntimeError as exc:
        raise PromtoolMissingError(
            f"promtool not found: install it (scripts/ensure-infra.sh promtool, or "
            f"apt-get install prometheus) or point $PROMTOOL at it\n{exc}"
        ) from exc


def run_promtool(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Runs ``promtool`` with ``args``; output is captured, the exit code is not checked.

    Args:
        *args: Arguments, e.g. ``"check", "rules", "rules.yml"``.
        cwd: Working directory (rule unit tests resolve their files from it).
        stdin: Text fed to promtool's standard input (``check metrics`` reads a scrape).
        timeout: Seconds before the run is abandoned.

    Returns:
        The completed process with text stdout/stderr; the caller checks ``returncode``.
    """
    return subprocess.run(
        [find_promtool(), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
