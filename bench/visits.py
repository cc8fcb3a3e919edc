"""Dispatch latency at ``concurrent_rooms`` rooms, from short visits interleaved in time.

A p95 pooled over three runs per worker, each a minute and a half at its own moment, moved
from run to run by more than the 5 % a latency target allows: the machine's speed drifts over
minutes (bench/README.md), and three runs sampled that drift three times per worker. Here the
compared workers are started once and stay up. Each is first measured on the whole workload
(``measure_worker``: idle CPU, single rooms, the loaded phase, a burst, memory, scrapes);
then cycles visit each in turn (``visit_order``), and a visit is the loaded phase alone:
``concurrent_rooms`` background rooms, ``probe_rooms`` probes dispatched one by one while
they are live, then the rooms leave and the worker settles. Many short visits spread every
worker's probes over the same stretch of time, so the drift falls alike on all of them and a
bootstrap over the probe rooms (``bench.confidence``) measures the spread it should. Cycles
go on while a latency target is inconclusive and another fits in the time left.

While one worker is visited the others idle on the same CPUs (about 0.03 cores each, alike
for every worker).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.confidence import Verdict, more_rounds_said
from bench.dispatch import (
    RunTarget,
    WorkerRun,
    measure_worker,
    say_cost,
    serve_visit,
    serve_wave,
)
from bench.plan import RunPlan
from bench.proctree import rss
from bench.workers import WorkerKind, start_worker, stop_worker
from devtools.harness import WorkerProcess

__all__ = ["Visits", "VisitSpec", "run_visits", "visit_order", "while_undecided"]


@dataclass(frozen=True)
class VisitSpec:
    """The visits' workload and how many cycles of them.

    Attributes:
        plan: one visit's workload: its ``concurrent_rooms`` background rooms, their ramp,
            ``probe_rooms`` probes, their spacing and hold (single rooms and bursts unused).
        cycles: cycles at least; a cycle visits every worker once.
        max_cycles: cycles at most; more than ``cycles`` run while a latency target is
            inconclusive and another cycle fits in the time left.
    """

    plan: RunPlan
    cycles: int
    max_cycles: int


@dataclass
class Visits:
    """What the phase measured.

    Attributes:
        whole: per worker, its one run of the whole workload.
        visits: per worker, one run per visit (``ramp`` and ``loaded`` rooms, the loaded
            phase's CPU).
        main_rss: per worker, its main process's RSS in bytes before the first visit and
            after the last.
        seconds: how long the cycles took.
    """

    whole: dict[str, list[WorkerRun]] = field(default_factory=dict)
    visits: dict[str, list[WorkerRun]] = field(default_factory=dict)
    main_rss: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def cycles(self) -> int:
        """Cycles completed (every worker visited once in each)."""
        return min((len(runs) for runs in self.visits.values()), default=0)

    def latency_runs(self) -> dict[str, list[WorkerRun]]:
        """Per worker, every run whose rooms the latency figures pool: the whole workload's
        (its single rooms, ramp and burst) and the visits' (ramp and probes)."""
        kinds = [*self.whole, *(kind for kind in self.visits if kind not in self.whole)]
        return {kind: self.whole.get(kind, []) + self.visits.get(kind, []) for kind in kinds}


def visit_order(kinds: Sequence[WorkerKind], cycle: int) -> tuple[WorkerKind, ...]:
    """The workers in the order cycle ``cycle`` visits them: the rows of a Williams square.

    Over ``len(kinds)`` cycles (twice that for an odd count, whose rows alternate with their
    mirror) every worker comes first equally often and directly follows every other equally
    often, so that neither a place in the cycle nor what ran just before favours one worker.
    """
    n = len(kinds)
    if n == 0:
        return ()
    first = [0]
    for step in range(1, n):  # 0, 1, n-1, 2, n-2, ...
        first.append((step + 1) // 2 if step % 2 else n - step // 2)
    row = [kinds[(index + cycle) % n] for index in first]
    if n % 2 and (cycle // n) % 2:
        row.reverse()
    return tuple(row)


def while_undecided(
    verdicts: Callable[[Visits], Mapping[str, Verdict]],
    *,
    started: float,
    budget: float,
    max_cycles: int,
    say: Callable[[str], None],
) -> Callable[[Visits, float], bool]:
    """The rule for one more cycle (``run_visits``'s ``another_cycle``): a verdict of
    ``verdicts`` is still inconclusive and a cycle as long as the slowest so far ends
    ``budget`` seconds after ``started`` (monotonic) at the latest."""

    def another_cycle(visits: Visits, seconds_per_cycle: float) -> bool:
        return more_rounds_said(
            verdicts(visits),
            elapsed=time.monotonic() - started,
            seconds_per_round=seconds_per_cycle,
            budget=budget,
            rounds=visits.cycles,
            max_rounds=max_cycles,
            say=say,
            unit="cycle",
        )

    return another_cycle


def _start_all(
    kinds: Sequence[WorkerKind], targets: Mapping[str, RunTarget]
) -> dict[str, WorkerProcess]:
    workers: dict[str, WorkerProcess] = {}
    try:
        for kind in kinds:
            target = targets[kind.name]
            workers[kind.name] = start_worker(
                kind, target.access, target.work_dir, target.otlp_endpoint, cpus=target.worker_cpus
            )
    except BaseException:
        _stop_all(workers)
        raise
    return workers


def _stop_all(workers: Mapping[str, WorkerProcess]) -> None:
    for worker in workers.values():
        stop_worker(worker)


def _main_rss(worker: WorkerProcess) -> int:
    assert worker.process is not None
    return rss(worker.process.pid) or 0


def run_visits(
    kinds: Sequence[WorkerKind],
    targets: Mapping[str, RunTarget],
    whole_plan: RunPlan | None,
    spec: VisitSpec,
    say: Callable[[str], None],
    *,
    another_cycle: Callable[[Visits, float], bool],
) -> Visits:
    """Start every worker, measure each on ``whole_plan`` (or warm it), then visit them in
    cycles.

    Args:
        kinds: the compared workers.
        targets: per worker, where it runs (its OTLP endpoint, log directory, CPUs).
        whole_plan: the workload each worker serves once, first; None: one warm-up room
            each instead (``whole`` stays empty).
        spec: the visits.
        say: progress lines.
        another_cycle: after ``spec.cycles`` cycles, whether to run one more, given what
            was measured and the longest cycle's seconds.

    Returns:
        The runs; every worker is stopped.
    """
    result = Visits()
    workers = _start_all(kinds, targets)
    try:
        for kind in kinds:
            worker, target = workers[kind.name], targets[kind.name]
            if whole_plan is None:
                serve_wave(worker, kind, target.access, spec.plan.single(), f"{kind.name}-warmup")
                continue
            say(f"whole workload: {kind.name}")
            run = measure_worker(worker, kind, target, whole_plan)
            result.whole[kind.name] = [run]
            say_cost(run, say)
        _cycles(
            kinds, workers, targets, spec=spec, say=say, another_cycle=another_cycle, result=result
        )
    finally:
        _stop_all(workers)
    return result


def _cycles(
    kinds: Sequence[WorkerKind],
    workers: Mapping[str, WorkerProcess],
    targets: Mapping[str, RunTarget],
    *,
    spec: VisitSpec,
    say: Callable[[str], None],
    another_cycle: Callable[[Visits, float], bool],
    result: Visits,
) -> None:
    rss_before = {name: _main_rss(worker) for name, worker in workers.items()}
    result.visits = {kind.name: [] for kind in kinds}
    rooms, probes = spec.plan.concurrent_rooms, spec.plan.probe_rooms
    started = time.monotonic()
    slowest = 0.0
    cycle = 0
    while cycle < spec.max_cycles and (cycle < spec.cycles or another_cycle(result, slowest)):
        cycle_started = time.monotonic()
        say(f"cycle {cycle + 1} (at least {spec.cycles}): {rooms} rooms, {probes} probes each")
        for kind in visit_order(kinds, cycle):
            visit = serve_visit(
                workers[kind.name], kind, targets[kind.name], spec.plan, f"{kind.name}-v{cycle}"
            )
            result.visits[kind.name].append(visit)
        slowest = max(slowest, time.monotonic() - cycle_started)
        cycle += 1
    result.seconds = time.monotonic() - started
    result.main_rss = {
        name: (rss_before[name], _main_rss(worker)) for name, worker in workers.items()
    }
