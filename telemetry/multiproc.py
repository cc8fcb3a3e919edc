"""Keep prometheus_client's multiprocess directory bounded as job processes come and go.

Every job process is single-use and leaves its own ``counter_<pid>.db``,
``histogram_<pid>.db`` and gauge files behind; a scrape reads them all, so without care the
scrape cost grows with every job the worker ever served. The SDK does not call
``mark_process_dead`` when a job process exits (livekit/agents issue 7006), and that call
would only remove live-gauge files anyway.

:class:`MultiprocessCompactor` folds the files of dead processes into one aggregate file per
metric type: counters, histogram buckets and summaries are summed (so counters stay
monotonic), ``sum``/``max``/``min``/``mostrecent`` gauges are merged by their mode, and the
files of ``live*`` and ``all`` gauges of dead processes are removed, as their modes mean.
The merge and every scrape take the same lock, so a scrape sees the files either all before
or all after a merge, never a value counted twice or not at all.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from .seams.prom_client import Values, read_values, write_values

__all__ = ["AGGREGATE", "MultiprocessCompactor", "pid_alive"]

logger = logging.getLogger(__name__)

AGGREGATE = "aggregate"
_FILE = re.compile(
    r"^(?P<typ>counter|histogram|summary|gauge)_(?:(?P<mode>[a-z]+)_)?(?P<pid>\d+)\.db$"
)
_SUMMED_TYPES = ("counter", "histogram", "summary")
_MERGED_GAUGE_MODES = ("sum", "max", "min", "mostrecent")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie that has not been reaped is dead)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _merge(
    mode: str, current: tuple[float, float] | None, new: tuple[float, float]
) -> tuple[float, float]:
    if current is None:
        return new
    (old_value, old_ts), (value, ts) = current, new
    if mode in _SUMMED_TYPES or mode == "sum":
        return old_value + value, max(old_ts, ts)
    if mode == "max":
        return max(current, new)
    if mode == "min":
        return min(current, new)
    return new if ts >= old_ts else current  # mostrecent


def _write_atomically(path: Path, values: Values) -> None:
    # a scrape must never see a half-written aggregate: build it aside, then rename
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    write_values(tmp, values)
    os.replace(tmp, path)


class MultiprocessCompactor:
    """Folds the multiprocess files of dead processes into aggregates.

    Args:
        path: the multiprocess directory.
        is_alive: tells whether a pid is a running process.
    """

    def __init__(self, path: Path, *, is_alive: Callable[[int], bool] = pid_alive) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._is_alive = is_alive

    def compact(self) -> int:
        """Merge and remove the files of every dead process.

        Returns:
            The number of files removed.
        """
        with self.lock:
            dead = self._dead_files()
            if not dead:
                return 0
            by_target: dict[tuple[str, str], list[Path]] = defaultdict(list)
            for path, typ, mode in dead:
                if typ in _SUMMED_TYPES:
                    by_target[(typ, typ)].append(path)
                elif mode in _MERGED_GAUGE_MODES:
                    by_target[(f"gauge_{mode}", mode)].append(path)
            for (stem, mode), paths in by_target.items():
                self._fold(self.path / f"{stem}_{AGGREGATE}.db", mode, paths)
            for path, _, _ in dead:
                path.unlink(missing_ok=True)
            return len(dead)

    def file_count(self) -> int:
        """How many multiprocess files the directory holds (what a scrape reads)."""
        return sum(1 for _ in self.path.glob("*.db"))

    def _dead_files(self) -> list[tuple[Path, str, str]]:
        dead: list[tuple[Path, str, str]] = []
        alive: dict[int, bool] = {}
        for path in self.path.glob("*.db"):
            match = _FILE.match(path.name)
            if match is None:
                continue  # an aggregate, or not ours
            pid = int(match["pid"])
            if pid not in alive:
                alive[pid] = pid == os.getpid() or self._is_alive(pid)
            if not alive[pid]:
                dead.append((path, match["typ"], match["mode"] or ""))
        return dead

    @staticmethod
    def _fold(target: Path, mode: str, sources: Iterable[Path]) -> None:
        values = read_values(target) if target.exists() else {}
        for source in sources:
            try:
                new_values = read_values(source)
            except (OSError, RuntimeError, struct.error, UnicodeDecodeError) as error:
                # a file cut short by a crash cannot be trusted; losing it beats corrupting
                logger.warning("skipping unreadable metrics file %s: %s", source.name, error)
                continue
            for key, value in new_values.items():
                values[key] = _merge(mode, values.get(key), value)
        _write_atomically(target, values)
