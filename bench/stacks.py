"""Where a py-spy profile's samples went: shares by process role, package and function.

``py-spy record --subprocesses --full-filenames --format raw`` writes one line per distinct
stack: frames joined by ``;`` (outermost first, led by one ``process <pid>:"<command>"``
frame per process level) and the sample count. The worker's main process has one process
frame; its job processes (main → forkserver → job) have three.

Two readings of a sample:

- by package, exclusive: the sample goes to the innermost frame of a known package, so the
  SDK's share is its own code and not the libraries it calls; ``other`` is everything else
  (the standard library's event loop and sockets, the VAD's runtime);
- by function, inclusive: every project function on the stack gets the sample.

The project's frames count only beneath the SDK's: the worker's ``__main__`` and ``run``
sit at the bottom of every main-process stack (they start the SDK's CLI), which says
nothing about what the project costs; the callbacks the SDK makes into the project do.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["OTHER", "PACKAGES", "StackProfile", "parse_raw"]

_SDK = "livekit-agents"
# where a file is installed (below site-packages) → the name it is reported under
_INSTALLED: tuple[tuple[str, str], ...] = (
    ("livekit/agents/", _SDK),
    ("livekit/rtc/", "livekit-rtc"),
    ("opentelemetry/", "opentelemetry"),
    ("grpc/", "grpc"),
    ("prometheus_client/", "prometheus_client"),
    ("psutil/", "psutil"),
)
_PROJECT = re.compile(r"/(worker|telemetry)/[^/]+\.py$")
OTHER = "other"
PACKAGES: tuple[str, ...] = (
    *(name for _, name in _INSTALLED),
    "project worker",
    "project telemetry",
    "logging",
    OTHER,
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]+):\d+\)$")

_Frame = tuple[str, str | None]  # display name, package


@dataclass
class StackProfile:
    """Sample counts by role (``main`` or ``job``), and within each by package and function."""

    samples: Counter[str] = field(default_factory=Counter)
    packages: dict[str, Counter[str]] = field(default_factory=dict)
    functions: dict[str, Counter[_Frame]] = field(default_factory=dict)

    def share(self, role: str, package: str) -> float:
        """The fraction of ``role``'s samples whose innermost known frame is ``package``'s."""
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

    def add(self, role: str, frames: list[_Frame], hits: int) -> None:
        """Count one stack (outermost frame first) seen ``hits`` times."""
        self.samples[role] += hits
        innermost = next((where for _, where in reversed(frames) if where), OTHER)
        self.packages.setdefault(role, Counter())[innermost] += hits
        seen = {frame for frame in frames if frame[1] is not None}
        self.functions.setdefault(role, Counter()).update(dict.fromkeys(seen, hits))


def _package(path: str) -> str | None:
    if "/site-packages/" in path:
        installed = path.split("/site-packages/", 1)[1]
        return next((name for prefix, name in _INSTALLED if installed.startswith(prefix)), None)
    if (match := _PROJECT.search(path)) is not None:
        return f"project {match[1]}"
    return "logging" if "/logging/" in path else None


def _frame(frame: str) -> _Frame:
    """A frame's display name (function and file, no machine path) and its package."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, None
    path = match["path"]
    short = path.split("/site-packages/", 1)[-1]
    if (project := _PROJECT.search(short)) is not None:
        short = short[project.start() + 1 :]
    return f"{match['function']} ({short})", _package(path)


def _beneath_sdk(frames: list[_Frame]) -> list[_Frame]:
    """The frames with the project's ones below the SDK's first frame made anonymous."""
    first = next((i for i, (_, where) in enumerate(frames) if where == _SDK), len(frames))
    return [
        (name, None if i < first and (where or "").startswith("project") else where)
        for i, (name, where) in enumerate(frames)
    ]


def parse_raw(lines: Iterable[str]) -> StackProfile:
    """Read py-spy's raw (collapsed) output, recorded with ``--full-filenames``."""
    profile = StackProfile()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        levels = sum(frame.startswith("process ") for frame in frames)
        code = [_frame(f) for f in frames if not f.startswith(("process ", "thread "))]
        profile.add("main" if levels <= 1 else "job", _beneath_sdk(code), int(count))
    return profile
