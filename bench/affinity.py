"""CPU affinity: the worker under test, the load generator and livekit-server apart.

On a shared pair of cores the load generator's WebRTC threads and livekit-server compete
with the worker for the same CPU, and their bursts show up as the worker's latency. Where
the machine has the cores, each gets its own: with two, the worker gets one and the load
generator shares the other with livekit-server; with three or more, the load generator and
livekit-server get one each and the worker the rest. With one core nothing is pinned.
Processes a pinned process starts later inherit its affinity (the SDK's job processes are
forked from its forkserver), so pinning a process tree once it is up covers its future
children too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass

import psutil

__all__ = ["Pinning", "available_cpus", "pin_bench", "pin_tree", "plan_pinning"]


@dataclass(frozen=True)
class Pinning:
    """Which CPUs each side of the bench runs on.

    Attributes:
        worker: the worker under test (main process, forkserver, job processes).
        load_generator: the bench process, which runs the synthetic participants.
        livekit_server: the LiveKit server.
    """

    worker: frozenset[int]
    load_generator: frozenset[int]
    livekit_server: frozenset[int]

    def describe(self) -> str:
        """One line for the progress output and the JSON."""
        return "; ".join(
            f"{name.replace('_', ' ')} on CPU {','.join(map(str, sorted(cpus)))}"
            for name, cpus in (
                ("worker", self.worker),
                ("load_generator", self.load_generator),
                ("livekit_server", self.livekit_server),
            )
        )

    def as_dict(self) -> dict[str, list[int]]:
        """The JSON form."""
        return {
            "worker": sorted(self.worker),
            "load_generator": sorted(self.load_generator),
            "livekit_server": sorted(self.livekit_server),
        }


def plan_pinning(cpus: Collection[int]) -> Pinning | None:
    """How to split ``cpus`` (the CPUs this process may use); None with fewer than two."""
    ordered = sorted(cpus)
    if len(ordered) < 2:
        return None
    if len(ordered) == 2:
        shared = frozenset(ordered[:1])
        return Pinning(frozenset(ordered[1:]), shared, shared)
    return Pinning(frozenset(ordered[2:]), frozenset(ordered[:1]), frozenset(ordered[1:2]))


def available_cpus() -> frozenset[int]:
    """The CPUs this process may run on."""
    return frozenset(os.sched_getaffinity(0))


def pin_tree(pid: int, cpus: Collection[int]) -> int:
    """Pin ``pid`` and every descendant it has now to ``cpus``; returns how many were pinned.

    A process that exits meanwhile is skipped.
    """
    pinned = 0
    try:
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            process.cpu_affinity(sorted(cpus))
            pinned += 1
    return pinned


def pin_bench(
    livekit_pid: int | None, say: Callable[[str], None], *, collector_pid: int | None = None
) -> Pinning | None:
    """Pin livekit-server and this process (the load generator) apart from the worker's CPUs.

    The OpenTelemetry Collector, when given, goes with livekit-server: it serves the worker
    as livekit-server does, from elsewhere in production, and its CPU must not be the
    worker's. The workers are pinned to ``Pinning.worker`` as they start (:func:`pin_tree`).
    Says what went where; None (nothing pinned) with one CPU.
    """
    pinning = plan_pinning(available_cpus())
    if pinning is None:
        say("CPU affinity: one CPU, nothing pinned")
        return None
    for pid in (livekit_pid, collector_pid):
        if pid is not None:
            pin_tree(pid, pinning.livekit_server)
    os.sched_setaffinity(0, pinning.load_generator)
    collector = " (and the Collector)" if collector_pid is not None else ""
    say(f"CPU affinity: {pinning.describe()}{collector}")
    return pinning
