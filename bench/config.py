"""How much the bench does: the full run behind the README's figures, and a quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

from bench.paired import PairSpec
from bench.plan import RunPlan

__all__ = ["FULL", "QUICK", "BenchConfig"]


@dataclass(frozen=True)
class BenchConfig:
    """Every count and time limit of one bench run; all loops are bounded by these.

    Attributes:
        name: ``full`` or ``quick``.
        rounds: interleaved rounds; each runs every worker once with ``plan``.
        plan: one run's workload.
        pairs: the simultaneous pairs that measure CPU per job (``bench.paired``).
        capacity_max_rooms: the capacity search's upper end.
        capacity_probes: probe rooms dispatched at each tried number of concurrent rooms.
        capacity_time_limit: seconds after which the capacity search stops.
        micro_events: sessions (4 events each) timed by the handler microbenchmark.
        scrapes: timed scrapes per scrape figure.
        max_rounds: rounds at most: more than ``rounds`` run while a target's interval is
            inconclusive and another round fits in ``time_budget``.
        time_budget: seconds the whole run may take (printed at its start); the capacity
            search's limit is kept for it.
    """

    name: str
    rounds: int
    plan: RunPlan
    pairs: PairSpec
    capacity_max_rooms: int
    capacity_probes: int
    capacity_time_limit: float
    micro_events: int
    scrapes: int
    max_rounds: int
    time_budget: float


FULL = BenchConfig(
    name="full",
    rounds=3,
    plan=RunPlan(
        single_rooms=5,
        single_hold=1.0,
        concurrent_rooms=20,
        ramp_spacing=0.5,
        probe_rooms=24,
        probe_spacing=1.5,
        probe_hold=1.0,
        settle_before_probes=3.0,
        bursts=1,
        wait_agent=20.0,
        idle_seconds=8.0,
    ),
    pairs=PairSpec(
        pairs=40,
        max_pairs=80,
        block=10,
        hold=0.5,
        wait_agent=20.0,
        idle_seconds=20.0,
        time_limit=480.0,
    ),
    capacity_max_rooms=40,
    capacity_probes=5,
    capacity_time_limit=420.0,
    micro_events=2000,
    scrapes=20,
    max_rounds=8,
    time_budget=35 * 60.0,
)

QUICK = BenchConfig(
    name="quick",
    rounds=1,
    plan=RunPlan(
        single_rooms=1,
        single_hold=0.5,
        concurrent_rooms=2,
        ramp_spacing=0.5,
        probe_rooms=2,
        probe_spacing=1.0,
        probe_hold=0.5,
        settle_before_probes=1.5,
        bursts=1,
        wait_agent=15.0,
        idle_seconds=1.0,
    ),
    pairs=PairSpec(
        pairs=2, max_pairs=2, block=1, hold=0.5, wait_agent=15.0, idle_seconds=1.0, time_limit=60.0
    ),
    capacity_max_rooms=1,
    capacity_probes=1,
    capacity_time_limit=30.0,
    micro_events=300,
    scrapes=5,
    max_rounds=1,
    time_budget=5 * 60.0,
)
