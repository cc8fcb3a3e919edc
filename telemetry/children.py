"""The SDK's child-process gauge, counted in one pass over /proc.

In multiprocess mode the SDK sets ``lk_agents_child_process_count`` (exposed as
``lk_agents_child_processes``, see ``telemetry.exposition``) twice a second from its main
process with psutil's ``children(recursive=True)``, which reads the parent of every process
on the machine and builds a ``Process`` object for each descendant: about 3 ms of CPU per
call with 85 processes around, 0.03 s per job when one room arrives every 5 s
(``bench/README.md``). Reading each ``/proc/<pid>/stat`` once, raw, gives the same count
for a quarter of that. Where there is no /proc, psutil's count is used.

Even that pass reads every process on the machine, twice a second (0.74 ms per call with 85
processes: 7 ms per job at one job every 5 s, more on a busier machine). The tree changes
only when the process pool starts or closes a process, so :class:`ChildCount` recounts only
after the pool said so (``changed``), and otherwise every ``rescan_seconds`` in case
something else in the tree started or ended.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import psutil
from livekit.agents import utils
from livekit.agents.telemetry import metrics as sdk_metrics

from .seams.lk_agents import replace_child_count_updater

__all__ = ["ChildCount", "count_descendants", "install_child_count", "update_child_count"]

_PROC = Path("/proc")
_STAT_BYTES = 1024  # the fields up to ppid fit; a command name is at most 64 bytes


def _parent(stat: Path) -> int | None:
    try:
        fd = os.open(stat, os.O_RDONLY)
    except OSError:
        return None  # exited since the listing
    try:
        data = os.read(fd, _STAT_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after
    # the last ")"
    fields = data[data.rfind(b")") + 2 :].split(b" ", 2)
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def count_descendants(pid: int | None = None, *, proc: Path = _PROC) -> int:
    """How many processes descend from ``pid`` (this process by default).

    Args:
        pid: the root of the tree.
        proc: where procfs is mounted.

    Raises:
        OSError: ``proc`` cannot be listed.
    """
    children: defaultdict[int, list[int]] = defaultdict(list)
    for name in os.listdir(proc):
        if name.isdigit() and (parent := _parent(proc / name / "stat")) is not None:
            children[parent].append(int(name))
    todo, seen = [os.getpid() if pid is None else pid], set[int]()
    while todo:
        fresh = [child for child in children.get(todo.pop(), ()) if child not in seen]
        seen.update(fresh)
        todo += fresh
    return len(seen)


def update_child_count() -> None:
    """Set the SDK's child-process gauge, as the SDK's own updater does."""
    try:
        count = count_descendants()
    except OSError:
        try:
            count = len(psutil.Process().children(recursive=True))
        except psutil.Error:
            return
    sdk_metrics.CHILD_PROC_GAUGE.labels(nodename=utils.nodename()).set(count)


class ChildCount:
    """The SDK's child-process gauge, recounted only when the tree may have changed.

    Args:
        update: recounts and sets the gauge.
        rescan_seconds: longest time between two counts without a change reported.
        clock: monotonic time source (tests pass a fake one).
    """

    def __init__(
        self,
        update: Callable[[], None] = update_child_count,
        *,
        rescan_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._update = update
        self._rescan_seconds = rescan_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = True
        self._counted_at: float | None = None

    def changed(self, *_event: object) -> None:
        """The process tree changed (a process pool event): count at the next tick."""
        with self._lock:
            self._changed = True

    def tick(self) -> None:
        """The SDK's periodic call: count if the tree changed or the count is old."""
        now = self._clock()
        with self._lock:
            fresh = self._counted_at is not None and now - self._counted_at < self._rescan_seconds
            if fresh and not self._changed:
                return
            self._changed = False
            self._counted_at = now
        self._update()


def install_child_count(updater: Callable[[], None] = update_child_count) -> bool:
    """Have the SDK's load loop call ``updater`` (by default ``update_child_count``; a
    :class:`ChildCount`'s ``tick``) for its gauge; False if the SDK changed."""
    return replace_child_count_updater(updater)
