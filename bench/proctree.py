"""CPU time and memory of a worker's whole process tree, including processes that exited.

CPU: every process's ``cpu_times()`` holds its own user and system time and, in the
``children_*`` fields, the times of the children it has reaped. The SDK's job processes are
forked by the multiprocessing forkserver, which reaps them as they exit, so the sum of
own + reaped times over the live tree counts every process the tree ever ran; the
difference of two such sums is the tree's CPU time in between.

Memory: a sampling thread reads each process's peak resident set (``VmHWM``) while it
lives; job processes are the main process's grandchildren (main → forkserver → job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devtools.harness import PeriodicSampler

__all__ = [
    "CpuSnapshot",
    "ProcessSample",
    "TreeMonitor",
    "cpu_snapshot",
    "job_process_count",
    "peak_rss",
    "rss",
]

_JOB_DEPTH = 2


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds of a process tree at one moment: the main process and the rest."""

    main: float
    total: float


def _times(process: psutil.Process, *, with_children: bool = True) -> float:
    times = process.cpu_times()
    own = float(times.user + times.system)
    if not with_children:
        return own
    return own + float(times.children_user + times.children_system)


def cpu_snapshot(pid: int) -> CpuSnapshot:
    """The CPU seconds used so far by ``pid`` and all its descendants, dead or alive."""
    main = psutil.Process(pid)
    main_own = _times(main, with_children=False)
    total = _times(main)
    for child in main.children(recursive=True):
        try:
            total += _times(child)
        except psutil.Error:
            continue  # exited between listing and reading: its parent reaps it
    return CpuSnapshot(main=main_own, total=total)


def peak_rss(pid: int) -> int | None:
    """The peak resident set of ``pid`` in bytes (``VmHWM``); None when it is gone or a
    zombie (whose memory is already released)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    if fields.get("State", "").strip().startswith("Z") or "VmHWM" not in fields:
        return None
    return int(fields["VmHWM"].split()[0]) * 1024


def rss(pid: int) -> int | None:
    """The current resident set of ``pid`` in bytes, None when it is gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def job_process_count(pid: int) -> int:
    """How many job processes (grandchildren of ``pid``, zombies excluded) are alive."""
    count = 0
    try:
        for child in psutil.Process(pid).children():
            for grandchild in child.children():
                if grandchild.status() != psutil.STATUS_ZOMBIE:
                    count += 1
    except psutil.Error:
        pass
    return count


@dataclass
class ProcessSample:
    """What the monitor saw of one process."""

    pid: int
    depth: int
    first_seen: float
    last_seen: float
    name: str = ""
    peak_rss: int = 0
    gone: bool = False


@dataclass
class TreeMonitor(PeriodicSampler):
    """Samples a worker's process tree every ``interval`` seconds in a thread.

    Args:
        pid: the worker's main process.
        interval: seconds between samples.
    """

    interval: float = 0.25
    processes: dict[int, ProcessSample] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)

    def _depths(self) -> dict[int, int]:
        main = psutil.Process(self.pid)
        if self.pid not in self.processes:
            self._names[self.pid] = main.name()
        parents: dict[int, int] = {}
        for child in main.children(recursive=True):
            try:
                parents[child.pid] = child.ppid()
                if child.pid not in self.processes:
                    self._names[child.pid] = child.name()
            except psutil.Error:
                continue
        depths = {self.pid: 0}
        for pid in parents:
            depth, current = 0, pid
            while current in parents and depth <= len(parents):
                depth, current = depth + 1, parents[current]
            depths[pid] = depth
        return depths

    def sample(self) -> None:
        """Take one sample now."""
        now = time.monotonic()
        try:
            depths = self._depths()
        except psutil.Error:
            return
        for pid, depth in depths.items():
            rss = peak_rss(pid)
            name = self._names.pop(pid, "")
            entry = self.processes.setdefault(pid, ProcessSample(pid, depth, now, now, name))
            entry.last_seen = now
            if rss is not None:
                entry.peak_rss = max(entry.peak_rss, rss)
        for pid, entry in self.processes.items():
            entry.gone = pid not in depths

    def job_processes(self, *, exited_only: bool = True) -> list[ProcessSample]:
        """The job processes seen; by default those that exited (served a job and ended).

        Job processes are forks of the forkserver, a Python process like the main one;
        short-lived programs a job process may run (``ldconfig`` …) are not counted.
        """
        main = self.processes.get(self.pid)
        python = main.name if main is not None else ""
        return [
            p
            for p in self.processes.values()
            if p.depth >= _JOB_DEPTH and p.name == python and (p.gone or not exited_only)
        ]
