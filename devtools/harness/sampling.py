"""Sampling a process tree on a thread: the memory tests' RSS peaks and the bench's monitor."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil

from .lifecycle import StartStop

__all__ = ["PeriodicSampler", "RssSampler", "process_tree"]


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and all its descendants, the root first.

    Raises:
        psutil.NoSuchProcess: ``pid`` is gone.
    """
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


@dataclass
class PeriodicSampler(StartStop):
    """Calls ``sample()`` on entry, every ``interval`` seconds on a thread, and on exit.

    Bounded: the thread stops after ``limit`` samples even if the block has not exited.
    Subclasses implement ``sample()``.

    Args:
        pid: the root of the process tree.
        interval: seconds between samples.
        limit: most samples the thread takes.
    """

    pid: int
    interval: float = 0.2
    limit: int = 100_000
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        """Takes one sample now."""
        raise NotImplementedError

    def _run(self) -> None:
        for _ in range(self.limit):
            if self._stop.wait(self.interval):
                break
            self.sample()

    def start(self) -> None:
        """Takes a first sample and starts the sampling thread."""
        self.sample()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and takes a last sample."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sample()


@dataclass
class RssSampler(PeriodicSampler):
    """Samples the resident memory of a process and its descendants.

    Attributes:
        peaks: the highest RSS (bytes) seen per pid.
        first: the RSS of the root process at the first sample.
        last: the RSS of the root process at the last sample.
    """

    limit: int = 3000
    peaks: dict[int, int] = field(default_factory=dict)
    first: int = 0
    last: int = 0

    def sample(self) -> None:
        """Takes one sample now."""
        try:
            processes = process_tree(self.pid)
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue  # exited: no memory to speak of
                rss = process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            if process.pid == self.pid:
                self.first = self.first or rss
                self.last = rss
