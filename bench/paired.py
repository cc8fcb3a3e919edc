"""CPU per job in simultaneous pairs: one room for the bare worker and one for ours at once.

Why pairs at the same moment: on this kind of shared machine the same pure-Python loop
takes 8 % more or less CPU time from one second to the next, and a worker's rounds, minutes
apart, differ by up to 20 %. Whatever slows the machine at one instant slows both jobs of a
simultaneous pair alike, so the pair's ratio keeps what differs between the workers. The
workers run side by side on the same CPUs with their own agent names; each pair creates one
room for each at once (which goes first rotates) and waits until all settled, with their
idle pools warm again, before reading the trees' CPU. A pair whose room found no agent is
dropped and counted (``failed_pairs``).

A pair may hold a third worker's room as a reference: the bare worker with the project's VAD
(``bare_native_vad``) splits ours / bare into what the VAD saves and what the telemetry
costs (``COMPARISONS``).

CPU per job beyond idle is a pair's tree CPU minus what the same worker burns idle over the
pair's seconds (both workers' idle CPU is measured side by side before and after the pairs).
The main process's CPU per job is taken all in: most of it over a pair's seconds is idle
work (about 0.01 cores), whose estimate would swamp the job's share, and both workers'
windows are the same seconds. Each ratio ours / bare is the ratio of the means, with a
bootstrap interval over the pairs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.confidence import Interval, bootstrap_ratio
from bench.dispatch import settle
from bench.load import RoomTiming, WaveSpec, run_wave
from bench.proctree import CpuSnapshot, cpu_snapshot
from bench.stats import summarize
from bench.workers import WorkerKind
from devtools.harness import WorkerProcess
from devtools.synthetic import ServerAccess

__all__ = [
    "COMPARISONS",
    "JobCpu",
    "PairSpec",
    "PairedCpu",
    "PairedWorker",
    "paired_figures",
    "run_pairs",
]


# numerator / denominator: the target's, the telemetry alone's, the VAD's
COMPARISONS = (("ours", "bare"), ("ours", "bare_native_vad"), ("bare_native_vad", "bare"))


@dataclass(frozen=True)
class PairSpec:
    """How many simultaneous pairs, and how each room is held.

    Attributes:
        pairs: pairs measured at least.
        max_pairs: pairs at most (more run while a CPU target is inconclusive).
        block: pairs added at a time beyond ``pairs``.
        hold: seconds each room stays once its agent joined.
        wait_agent: longest wait for a room's agent.
        idle_seconds: how long both idle workers' CPU is measured, before and after.
        time_limit: seconds after which no block of pairs is added.
    """

    pairs: int
    max_pairs: int
    block: int
    hold: float
    wait_agent: float
    idle_seconds: float
    time_limit: float


@dataclass(frozen=True)
class PairedWorker:
    """One of the two workers of the pairs, started and warm."""

    kind: WorkerKind
    process: WorkerProcess

    @property
    def pid(self) -> int:
        """The worker's main process."""
        assert self.process.process is not None
        return self.process.process.pid


@dataclass(frozen=True)
class JobCpu:
    """One worker's CPU seconds over one pair: the whole tree and its main process."""

    total: float
    main: float


@dataclass
class PairedCpu:
    """Everything the pairs measured: per pair, each worker's CPU, and the pair's seconds."""

    idle_cores: dict[str, float] = field(default_factory=dict)
    idle_main_cores: dict[str, float] = field(default_factory=dict)
    pairs: list[dict[str, JobCpu]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failed_pairs: int = 0

    def net(self, kind: str) -> list[float]:
        """Each pair's CPU seconds of ``kind``'s tree beyond its idle CPU over the pair's
        seconds."""
        idle = self.idle_cores[kind]
        return [
            pair[kind].total - idle * seconds
            for pair, seconds in zip(self.pairs, self.seconds, strict=True)
        ]

    def all_in(self, kind: str, *, main: bool = False) -> list[float]:
        """Each pair's CPU seconds of ``kind``'s tree (or main process), idle included."""
        return [pair[kind].main if main else pair[kind].total for pair in self.pairs]


def _snapshots(workers: Sequence[PairedWorker]) -> dict[str, CpuSnapshot]:
    return {w.kind.name: cpu_snapshot(w.pid) for w in workers}


def _measure_idle(workers: Sequence[PairedWorker], seconds: float) -> dict[str, CpuSnapshot]:
    """Both workers' CPU over the same ``seconds`` once they settled: (total, main) cores."""
    for worker in workers:
        settle(worker.process)
    before = _snapshots(workers)
    time.sleep(seconds)
    after = _snapshots(workers)
    return {
        name: CpuSnapshot(
            main=(after[name].main - before[name].main) / seconds,
            total=(after[name].total - before[name].total) / seconds,
        )
        for name in before
    }


async def _at_once(
    access: ServerAccess, workers: Sequence[PairedWorker], spec: WaveSpec, prefix: str
) -> list[list[RoomTiming]]:
    waves = [run_wave(access, w.kind.agent_name, spec, f"{prefix}-{w.kind.name}") for w in workers]
    return list(await asyncio.gather(*waves))


def _one_pair(
    access: ServerAccess, workers: Sequence[PairedWorker], spec: WaveSpec, index: int
) -> tuple[dict[str, JobCpu], float] | None:
    shift = index % len(workers)
    order = [*workers[shift:], *workers[:shift]]
    before, started = _snapshots(workers), time.monotonic()
    rooms = asyncio.run(_at_once(access, order, spec, f"pair{index}"))
    for worker in workers:
        settle(worker.process)
    after, seconds = _snapshots(workers), time.monotonic() - started
    if any(t.error is not None for wave in rooms for t in wave):
        return None
    cpu = {
        name: JobCpu(after[name].total - before[name].total, after[name].main - before[name].main)
        for name in before
    }
    return cpu, seconds


def run_pairs(
    access: ServerAccess,
    workers: Sequence[PairedWorker],
    spec: PairSpec,
    say: Callable[[str], None],
    *,
    another_block: Callable[[PairedCpu], bool] = lambda _: False,
) -> PairedCpu:
    """Serve simultaneous pairs of rooms, one room per worker each, and measure their CPU.

    Args:
        access: the LiveKit server.
        workers: the workers, registered and warm, on the same CPUs.
        spec: how many pairs and how each room is held.
        say: progress lines.
        another_block: asked after ``spec.pairs`` pairs and after each further block,
            whether to add ``spec.block`` pairs (never beyond ``spec.max_pairs``).
    """
    result = PairedCpu()
    wave = WaveSpec(1, 0.0, spec.hold, spec.wait_agent)
    idle_before = _measure_idle(workers, spec.idle_seconds)
    # the verdicts asked for between blocks use the idle CPU measured so far
    result.idle_cores, result.idle_main_cores = _idle(idle_before, idle_before)
    asyncio.run(_at_once(access, workers, wave, "pair-warmup"))
    target, index = spec.pairs, 0
    while index < target:
        measured = _one_pair(access, workers, wave, index)
        index += 1
        if measured is None:
            result.failed_pairs += 1
        else:
            result.pairs.append(measured[0])
            result.seconds.append(measured[1])
        if index == target < spec.max_pairs and another_block(result):
            target = min(spec.max_pairs, target + spec.block)
    idle_after = _measure_idle(workers, spec.idle_seconds)
    result.idle_cores, result.idle_main_cores = _idle(idle_before, idle_after)
    say(f"  {len(result.pairs)} pairs measured, {result.failed_pairs} dropped (a room failed)")
    return result


def _idle(
    before: Mapping[str, CpuSnapshot], after: Mapping[str, CpuSnapshot]
) -> tuple[dict[str, float], dict[str, float]]:
    total = {name: (before[name].total + after[name].total) / 2 for name in before}
    main = {name: (before[name].main + after[name].main) / 2 for name in before}
    return total, main


_FIGURES = ("net_cpu_s_per_job", "cpu_s_per_job", "main_cpu_s_per_job")


def _figures(paired: PairedCpu, kind: str) -> dict[str, list[float]]:
    return {
        "net_cpu_s_per_job": paired.net(kind),
        "cpu_s_per_job": paired.all_in(kind),
        "main_cpu_s_per_job": paired.all_in(kind, main=True),
    }


def _interval(ours: Sequence[float], bare: Sequence[float]) -> Interval | None:
    return bootstrap_ratio(ours, bare, statistics.mean, paired=True)


def _intervals(samples: Mapping[str, Mapping[str, list[float]]]) -> dict[str, Any]:
    intervals: dict[str, Any] = {}
    for num, den in COMPARISONS:
        if num in samples and den in samples:
            found = {key: _interval(samples[num][key], samples[den][key]) for key in _FIGURES}
            intervals[f"{num}/{den}"] = {k: i.as_dict() if i else None for k, i in found.items()}
    return intervals


def _summary(values: Sequence[float]) -> dict[str, Any]:
    return {"mean": round(statistics.mean(values), 4), **summarize(values)}


def paired_figures(paired: PairedCpu) -> dict[str, Any]:
    """Each worker's CPU per job over the pairs (beyond idle, all in, and the main process's
    all in), the ratios of the means of ``COMPARISONS`` with their intervals (under
    ``ci95["ours/bare"]`` …), and the raw pairs."""
    figures: dict[str, Any] = {
        "pairs": len(paired.pairs),
        "failed_pairs": paired.failed_pairs,
        "pair_seconds": summarize(paired.seconds),
    }
    if not paired.pairs:
        return figures | {"ci95": {}}
    samples = {kind: _figures(paired, kind) for kind in paired.pairs[0]}
    for kind, values in samples.items():
        figures[kind] = {key: _summary(v) for key, v in values.items()} | {
            "idle_cores": round(paired.idle_cores[kind], 4),
            "idle_main_cores": round(paired.idle_main_cores[kind], 4),
        }
    figures["ci95"] = _intervals(samples)
    figures["raw"] = [
        {kind: [round(cpu.total, 3), round(cpu.main, 3)] for kind, cpu in pair.items()}
        | {"seconds": round(seconds, 2)}
        for pair, seconds in zip(paired.pairs, paired.seconds, strict=True)
    ]
    return figures
