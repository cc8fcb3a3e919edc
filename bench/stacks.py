"""Where a py-spy profile's samples went: shares by process role and by package.

``py-spy record --subprocesses --format raw`` writes one line per distinct stack: frames
joined by ``;`` (outermost first, led by one ``process <pid>:"<command>"`` frame per
process level) and the sample count. The worker's main process has one process frame; its
job processes (main → forkserver → job) have three.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["PACKAGES", "StackProfile", "parse_raw"]

# where a frame's file lies (py-spy ``--full-filenames``) → the name it is reported under
_INSTALLED: tuple[tuple[str, str], ...] = (
    ("livekit/agents/", "livekit-agents"),
    ("livekit/rtc/", "livekit-rtc"),
    ("opentelemetry/", "opentelemetry"),
    ("grpc/", "grpc"),
    ("prometheus_client/", "prometheus_client"),
    ("psutil/", "psutil"),
)
_PROJECT = re.compile(r"/(worker|telemetry)/[^/]+\.py$")
PACKAGES: tuple[str, ...] = (
    *(name for _, name in _INSTALLED),
    "project worker",
    "project telemetry",
    "logging",
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]+):\d+\)$")


@dataclass
class StackProfile:
    """Sample counts by role (``main`` or ``job``), and within each by package and function.

    A package's or function's count is inclusive: every sample with it anywhere on the
    stack, counted once.
    """

    samples: Counter[str] = field(default_factory=Counter)
    packages: dict[str, Counter[str]] = field(default_factory=dict)
    functions: dict[str, Counter[tuple[str, str | None]]] = field(default_factory=dict)

    def share(self, role: str, package: str) -> float:
        """The fraction of ``role``'s samples spent in ``package`` (inclusive)."""
        total = self.samples[role]
        return self.packages.get(role, Counter())[package] / total if total else 0.0

    def top_functions(self, role: str, package: str, count: int) -> list[tuple[str, float]]:
        """``role``'s most sampled functions of ``package`` with their inclusive shares."""
        total = self.samples[role] or 1
        counts = self.functions.get(role, Counter())
        ranked = sorted(
            ((name, hits) for (name, where), hits in counts.items() if where == package),
            key=lambda item: (-item[1], item[0]),
        )
        return [(name, hits / total) for name, hits in ranked[:count]]


def _package(path: str) -> str | None:
    if "/site-packages/" in path:
        installed = path.split("/site-packages/", 1)[1]
        return next((name for prefix, name in _INSTALLED if installed.startswith(prefix)), None)
    if (match := _PROJECT.search(path)) is not None:
        return f"project {match[1]}"
    return "logging" if "/logging/" in path else None


def _frame(frame: str) -> tuple[str, str | None]:
    """A frame's display name (function and file, no machine path) and its package."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, None
    path = match["path"]
    short = path.split("/site-packages/", 1)[-1]
    if (project := _PROJECT.search(short)) is not None:
        short = short[project.start() + 1 :]
    return f"{match['function']} ({short})", _package(path)


def parse_raw(lines: Iterable[str]) -> StackProfile:
    """Read py-spy's raw (collapsed) output, recorded with ``--full-filenames``."""
    profile = StackProfile()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        levels = sum(frame.startswith("process ") for frame in frames)
        role = "main" if levels <= 1 else "job"
        code = {_frame(f) for f in frames if not f.startswith(("process ", "thread "))}
        hits = int(count)
        profile.samples[role] += hits
        packages = profile.packages.setdefault(role, Counter())
        for package in {where for _, where in code if where is not None}:
            packages[package] += hits
        profile.functions.setdefault(role, Counter()).update(dict.fromkeys(code, hits))
    return profile
