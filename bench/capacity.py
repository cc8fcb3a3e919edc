"""Capacity: the most concurrent rooms a worker serves before dispatch p95 passes 1 s.

Trying N concurrent rooms means: N background rooms created one by one and kept live
together (the run plan's ramp), then a few probe rooms dispatched one after another while
they are; the p95 of the probes' dispatch latencies (room created → agent joined, from the
server) must stay within 1 s. A room whose agent never came, background or probe, counts
as infinitely late. The search is a binary search over ``1..max_rooms``, run in lockstep for
the compared workers (both running, tries alternating), and bounded in tries and time: when
the time is up, each worker's result is the largest N that passed so far. A worker that
cannot end its jobs within the settle bound after a try is past its capacity: the try fails,
and if the worker is still busy after a longer wait its search stops there (``stalled``),
so that one overloaded worker neither aborts the bench nor skews its next tries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.dispatch import serve_load, settle
from bench.load import RoomTiming
from bench.plan import RunPlan
from bench.stats import percentile
from bench.workers import WorkerKind
from devtools.harness import WorkerProcess
from devtools.synthetic import ServerAccess

__all__ = ["CapacitySearch", "probe_p95", "search_capacity"]

THRESHOLD_SECONDS = 1.0
# after a try whose jobs did not end within the settle bound: the longest extra wait
_STALL_SECONDS = 180.0


def probe_p95(probes: Sequence[RoomTiming], background: Sequence[RoomTiming] = ()) -> float:
    """The p95 of the probes' dispatch latencies; infinite when any room lacked its agent."""
    if any(t.error is not None or t.joined_latency is None for t in background):
        return math.inf
    values = [
        t.joined_latency if t.joined_latency is not None and t.error is None else math.inf
        for t in probes
    ]
    result = percentile(values, 95)
    return math.inf if result is None or math.isnan(result) else result


@dataclass
class CapacitySearch:
    """The state of one worker's binary search: ``passed`` ≤ capacity ≤ ``upper``."""

    kind: WorkerKind
    worker: WorkerProcess
    passed: int = 0
    upper: int = 40
    probes: list[dict[str, Any]] = field(default_factory=list)
    stalled: bool = False

    @property
    def done(self) -> bool:
        """Whether the search has converged."""
        return self.passed >= self.upper

    def next_probe(self) -> int:
        """The room count to probe next (the upper middle of the open interval)."""
        return (self.passed + self.upper + 1) // 2

    def record(self, rooms: int, p95: float, errors: int) -> None:
        """Narrow the interval by one probe's result."""
        ok = p95 <= THRESHOLD_SECONDS
        self.probes.append(
            {
                "rooms": rooms,
                "p95_s": None if math.isinf(p95) else round(p95, 4),
                "errors": errors,
                "passed": ok,
            }
        )
        if ok:
            self.passed = rooms
        else:
            self.upper = rooms - 1

    def record_stall(self, rooms: int, *, recovered: bool) -> None:
        """A try whose jobs did not end in time: failed; without recovery, the search ends."""
        self.record(rooms, math.inf, errors=0)
        self.probes[-1]["drained"] = False
        if not recovered:
            self.stalled = True
            self.upper = self.passed


def _probe(search: CapacitySearch, access: ServerAccess, plan: RunPlan, probes: int) -> None:
    rooms = search.next_probe()
    prefix = f"{search.kind.name}-cap{rooms}"
    try:
        background, probed = serve_load(
            search.worker, search.kind, access, plan.load(rooms, probes), prefix
        )
    except TimeoutError:  # its jobs did not end within the settle bound
        try:
            settle(search.worker, _STALL_SECONDS)
        except TimeoutError:
            search.record_stall(rooms, recovered=False)
        else:
            search.record_stall(rooms, recovered=True)
        return
    errors = sum(1 for t in background + probed if t.error)
    search.record(rooms, probe_p95(probed, background), errors)


def search_capacity(
    searches: Sequence[CapacitySearch],
    access: ServerAccess,
    *,
    plan: RunPlan,
    probes: int,
    time_limit: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Run the searches in lockstep until all converge or ``time_limit`` seconds pass."""
    deadline = time.monotonic() + time_limit
    step = 0
    while not all(s.done for s in searches) and time.monotonic() < deadline:
        order = searches if step % 2 == 0 else list(reversed(searches))
        for search in order:
            if search.done or time.monotonic() >= deadline:
                continue
            _probe(search, access, plan, probes)
            last = search.probes[-1]
            say(f"  capacity {search.kind.name}: {last['rooms']} rooms, p95 {last['p95_s']} s")
        step += 1
    return {
        s.kind.name: {
            "capacity": s.passed,
            "converged": s.done and not s.stalled,
            "upper_bound": s.upper,
            "stalled": s.stalled,
            "probes": s.probes,
        }
        for s in searches
    }
