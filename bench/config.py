"""How much the bench does: the full run behind the README's figures, and a quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

from bench.paired import PairSpec
from bench.plan import RunPlan
from bench.visits import VisitSpec

__all__ = ["FULL", "QUICK", "BenchConfig"]


@dataclass(frozen=True)
class BenchConfig:
    """Every count and time limit of one bench run; all loops are bounded by these.

    Attributes:
        name: ``full`` or ``quick``.
        plan: the whole workload, which every worker serves once (``bench.dispatch``).
        visits: then the interleaved visits that measure the latency targets
            (``bench.visits``).
        pairs: the simultaneous pairs that measure CPU per job (``bench.paired``).
        capacity_max_rooms: the capacity search's upper end.
        capacity_probes: probe rooms dispatched at each tried number of concurrent rooms.
        capacity_time_limit: seconds after which the capacity search stops.
        micro_events: sessions (4 events each) timed by the handler microbenchmark.
        scrapes: timed scrapes per scrape figure.
        time_budget: seconds the whole run may take (printed at its start); the visits'
            cycles stop in time to keep the capacity search's limit for it.
    """

    name: str
    plan: RunPlan
    visits: VisitSpec
    pairs: PairSpec
    capacity_max_rooms: int
    capacity_probes: int
    capacity_time_limit: float
    micro_events: int
    scrapes: int
    time_budget: float


FULL = BenchConfig(
    name="full",
    plan=RunPlan(
        single_rooms=3,
        single_hold=1.0,
        concurrent_rooms=20,
        ramp_spacing=0.5,
        probe_rooms=0,  # the visits measure the loaded dispatch
        probe_spacing=1.0,
        probe_hold=1.0,
        settle_before_probes=3.0,
        bursts=1,
        wait_agent=20.0,
        idle_seconds=8.0,
    ),
    visits=VisitSpec(
        plan=RunPlan(
            single_rooms=0,
            single_hold=1.0,
            concurrent_rooms=20,
            ramp_spacing=0.5,
            probe_rooms=24,
            # the spacing the targets were set at (1 s spacing: bench/README.md)
            probe_spacing=1.5,
            probe_hold=1.0,
            settle_before_probes=3.0,
            bursts=0,
            wait_agent=20.0,
            idle_seconds=0.0,
        ),
        cycles=5,
        max_cycles=12,
    ),
    pairs=PairSpec(
        pairs=30,
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
    time_budget=35 * 60.0,
)

QUICK = BenchConfig(
    name="quick",
    plan=RunPlan(
        single_rooms=1,
        single_hold=0.5,
        concurrent_rooms=2,
        ramp_spacing=0.5,
        probe_rooms=0,
        probe_spacing=1.0,
        probe_hold=0.5,
        settle_before_probes=1.5,
        bursts=1,
        wait_agent=15.0,
        idle_seconds=1.0,
    ),
    visits=VisitSpec(
        plan=RunPlan(
            single_rooms=0,
            single_hold=0.5,
            concurrent_rooms=2,
            ramp_spacing=0.5,
            probe_rooms=2,
            probe_spacing=1.0,
            probe_hold=0.5,
            settle_before_probes=1.5,
            bursts=0,
            wait_agent=15.0,
            idle_seconds=0.0,
        ),
        cycles=1,
        max_cycles=1,
    ),
    pairs=PairSpec(
        pairs=2, max_pairs=2, block=1, hold=0.5, wait_agent=15.0, idle_seconds=1.0, time_limit=60.0
    ),
    capacity_max_rooms=1,
    capacity_probes=1,
    capacity_time_limit=30.0,
    micro_events=300,
    scrapes=5,
    time_budget=5 * 60.0,
)
