"""One worker under a fixed workload: dispatch timings, CPU per job, memory, real scrapes.

A run (``measure_worker``) measures a started worker's idle CPU, serves one warm-up room,
then the fixed workload in three phases, waiting after each step until no job runs and the
idle pool is warm again:

- single: rooms one after another (1 concurrent room);
- loaded: ``concurrent_rooms`` background rooms created ``ramp_spacing`` apart and kept
  live together, and, once they all are, ``probe_rooms`` probe rooms dispatched one by one:
  the dispatch latency at ``concurrent_rooms`` concurrent rooms (the background rooms'
  own dispatch is the "ramp" figure);
- burst: ``concurrent_rooms`` rooms created at once.

The worker's process tree CPU is read before and after each phase; the job processes' peak
memory is sampled while they live. The project's worker is also scraped after the single
rooms and at the end, outside the measured phases. A visit (``serve_visit``) is the loaded
phase alone, on a worker that stays up for many of them (``bench.visits``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.load import LoadSpec, RoomTiming, WaveSpec, run_under_load, run_wave
from bench.machine import machine_counters
from bench.plan import RunPlan
from bench.proctree import CpuSnapshot, TreeMonitor, cpu_snapshot, job_process_count, rss
from bench.scrape import scrape_series
from bench.workers import (
    IDLE_PROCESSES,
    WorkerKind,
    line_times,
    wait_no_jobs,
)
from devtools.harness import WorkerProcess
from devtools.synthetic import ServerAccess

__all__ = [
    "PhaseCpu",
    "RunTarget",
    "ScrapeSample",
    "WorkerRun",
    "measure_worker",
    "say_cost",
    "scrape_worker",
    "serve_load",
    "serve_visit",
    "serve_wave",
    "settle",
]

_QUIET_CORES = 0.15
_SETTLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class RunTarget:
    """Where a run happens: the LiveKit server, a directory for logs, the OTLP endpoint,
    and the LiveKit server's pid (its CPU is reported: it shares the machine)."""

    access: ServerAccess
    work_dir: Path
    otlp_endpoint: str
    livekit_pid: int | None = None
    worker_cpus: frozenset[int] | None = None


@dataclass
class ScrapeSample:
    """``/metrics`` of a real worker after some jobs."""

    jobs: int
    first_seconds: float
    median_seconds: float
    bytes: int
    files: int


@dataclass
class PhaseCpu:
    """CPU seconds of the worker's tree during one phase of the workload."""

    jobs: int = 0
    cpu: float = 0.0
    main: float = 0.0
    seconds: float = 0.0


@dataclass
class WorkerRun:
    """What one run of one worker measured."""

    kind: str
    single: list[RoomTiming] = field(default_factory=list)
    ramp: list[RoomTiming] = field(default_factory=list)
    loaded: list[RoomTiming] = field(default_factory=list)
    burst: list[RoomTiming] = field(default_factory=list)
    phases: dict[str, PhaseCpu] = field(default_factory=dict)
    idle_cores: float = 0.0
    job_peak_rss: list[int] = field(default_factory=list)
    main_rss_before: int = 0
    main_rss_after: int = 0
    scrapes: list[ScrapeSample] = field(default_factory=list)
    neighbours_cpu: dict[str, float] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)

    @property
    def jobs(self) -> int:
        """Jobs served in the measured workload."""
        return sum(p.jobs for p in self.phases.values())

    @property
    def seconds(self) -> float:
        """Duration of the measured workload."""
        return sum(p.seconds for p in self.phases.values())

    @property
    def cpu_total(self) -> float:
        """CPU seconds of the whole tree over the workload."""
        return sum(p.cpu for p in self.phases.values())

    @property
    def cpu_main(self) -> float:
        """CPU seconds of the main process over the workload."""
        return sum(p.main for p in self.phases.values())

    @property
    def cpu_per_job(self) -> float | None:
        """CPU seconds of the whole tree per job, idle time included."""
        return self.cpu_total / self.jobs if self.jobs else None

    @property
    def net_cpu_per_job(self) -> float | None:
        """CPU seconds per job beyond what the idle worker burns in the same time."""
        if not self.jobs:
            return None
        return (self.cpu_total - self.idle_cores * self.seconds) / self.jobs


def settle(worker: WorkerProcess, timeout: float = _SETTLE_TIMEOUT) -> None:
    """Wait until no job runs, the idle pool is back and the tree's CPU is quiet."""
    assert worker.process is not None
    pid = worker.process.pid
    wait_no_jobs(worker, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_snapshot(pid)
        time.sleep(0.5)
        busy = (cpu_snapshot(pid).total - before.total) / 0.5
        if busy < _QUIET_CORES and job_process_count(pid) <= IDLE_PROCESSES:
            return


def scrape_worker(worker: WorkerProcess, jobs: int, count: int = 10) -> ScrapeSample:
    """Scrape the worker's ``/metrics`` once (it may fold files), then ``count`` times."""
    series = scrape_series(worker.metrics_url, count)
    files = sum(1 for _ in worker.metrics_dir.glob("*.db"))
    return ScrapeSample(
        jobs, series["first_ms"] / 1000, series["median_ms"] / 1000, series["bytes"], files
    )


def _attach_log_times(worker: WorkerProcess, kind: WorkerKind, rooms: list[RoomTiming]) -> None:
    entered = line_times(worker, kind.entrypoint_line)
    connected = line_times(worker, kind.connected_line)
    for timing in rooms:
        timing.entrypoint = entered.get(timing.room)
        timing.connected = connected.get(timing.room)


def serve_wave(
    worker: WorkerProcess, kind: WorkerKind, access: ServerAccess, spec: WaveSpec, prefix: str
) -> list[RoomTiming]:
    """Serve one wave of rooms, wait until the worker settled, attach its log times."""
    timings = asyncio.run(run_wave(access, kind.agent_name, spec, prefix))
    settle(worker)
    _attach_log_times(worker, kind, timings)
    return timings


def serve_load(
    worker: WorkerProcess, kind: WorkerKind, access: ServerAccess, spec: LoadSpec, prefix: str
) -> tuple[list[RoomTiming], list[RoomTiming]]:
    """Serve background and probe rooms (see ``run_under_load``), settle, attach log times."""
    background, probes = asyncio.run(run_under_load(access, kind.agent_name, spec, prefix))
    settle(worker)
    _attach_log_times(worker, kind, background + probes)
    return background, probes


class _Phase:
    """Measures the tree's CPU over one phase of the workload."""

    def __init__(self, pid: int, result: WorkerRun, name: str, jobs: int) -> None:
        self._pid, self._result, self._name, self._jobs = pid, result, name, jobs
        self._before: CpuSnapshot | None = None
        self._started = 0.0

    def __enter__(self) -> None:
        self._before, self._started = cpu_snapshot(self._pid), time.monotonic()

    def __exit__(self, *exc: object) -> None:
        assert self._before is not None
        after = cpu_snapshot(self._pid)
        self._result.phases[self._name] = PhaseCpu(
            self._jobs,
            after.total - self._before.total,
            after.main - self._before.main,
            time.monotonic() - self._started,
        )


def _workload(
    worker: WorkerProcess, kind: WorkerKind, target: RunTarget, plan: RunPlan, result: WorkerRun
) -> None:
    assert worker.process is not None
    pid, access = worker.process.pid, target.access
    with _Phase(pid, result, "single", plan.single_rooms):
        for _ in range(plan.single_rooms):
            result.single += serve_wave(worker, kind, access, plan.single(), f"{kind.name}-1")
    if kind.otlp:  # between phases: the bare worker is never scraped
        result.scrapes.append(scrape_worker(worker, plan.single_rooms + 1))  # + the warm-up
    n = plan.concurrent_rooms
    with _Phase(pid, result, "loaded", n + plan.probe_rooms):
        load = plan.load(n, plan.probe_rooms)
        ramp, probes = serve_load(worker, kind, access, load, f"{kind.name}-{n}")
        result.ramp += ramp
        result.loaded += probes
    with _Phase(pid, result, "burst", n * plan.bursts):
        for _ in range(plan.bursts):
            result.burst += serve_wave(worker, kind, access, plan.burst(), f"{kind.name}-b")


def _measure_idle(worker: WorkerProcess, seconds: float) -> float:
    assert worker.process is not None
    settle(worker)
    before = cpu_snapshot(worker.process.pid)
    time.sleep(seconds)
    return (cpu_snapshot(worker.process.pid).total - before.total) / seconds


def _neighbours_cpu(target: RunTarget) -> dict[str, float]:
    """CPU seconds so far of what shares the machine: this load generator, livekit-server."""
    own = psutil.Process().cpu_times()
    result = {"load_generator": own.user + own.system}
    if target.livekit_pid is not None:
        result["livekit_server"] = cpu_snapshot(target.livekit_pid).total
    return result


def measure_worker(
    worker: WorkerProcess, kind: WorkerKind, target: RunTarget, plan: RunPlan
) -> WorkerRun:
    """Serve the plan's whole workload on a started worker and measure it: idle CPU, a
    warm-up room, the three phases, memory, and (ours) its scrapes."""
    assert worker.process is not None
    pid = worker.process.pid
    result = WorkerRun(kind.name)
    result.idle_cores = _measure_idle(worker, plan.idle_seconds)
    serve_wave(worker, kind, target.access, plan.single(), f"{kind.name}-warmup")
    result.main_rss_before = rss(pid) or 0
    neighbours = _neighbours_cpu(target)
    with TreeMonitor(pid) as monitor:
        _workload(worker, kind, target, plan, result)
    result.neighbours_cpu = {
        name: cpu - neighbours.get(name, 0.0) for name, cpu in _neighbours_cpu(target).items()
    }
    result.main_rss_after = rss(pid) or 0
    result.job_peak_rss = [p.peak_rss for p in monitor.job_processes() if p.peak_rss]
    if kind.otlp:
        result.scrapes.append(scrape_worker(worker, plan.jobs + 1))
    return result


def serve_visit(
    worker: WorkerProcess, kind: WorkerKind, target: RunTarget, plan: RunPlan, prefix: str
) -> WorkerRun:
    """The loaded phase alone, on a started and warm worker: ``plan.concurrent_rooms``
    background rooms, ``plan.probe_rooms`` probes while they are live, then settle; with
    the machine's counters over the visit (``bench.machine.machine_counters``)."""
    assert worker.process is not None
    result = WorkerRun(kind.name)
    n = plan.concurrent_rooms
    before = machine_counters()
    with _Phase(worker.process.pid, result, "loaded", n + plan.probe_rooms):
        result.ramp, result.loaded = serve_load(
            worker, kind, target.access, plan.load(n, plan.probe_rooms), prefix
        )
    after = machine_counters()
    result.machine = {name: round(after[name] - before[name], 2) for name in after.keys() & before}
    return result


def say_cost(run: WorkerRun, say: Callable[[str], None]) -> None:
    """One progress line: the run's jobs and CPU per job beyond idle."""
    say(f"  {run.kind}: {run.jobs} jobs, {run.net_cpu_per_job or 0.0:.3f} CPU s/job beyond idle")
