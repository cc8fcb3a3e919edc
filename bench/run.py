"""The whole bench, in order: servers up, microbenchmark, scrape cost, CPU pairs, capacity,
every worker's whole workload and the interleaved visits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.capacity import CapacitySearch, search_capacity
from bench.config import BenchConfig
from bench.figures import cost_figures, latency_figures, run_record, scrape_real, visits_record
from bench.machine import describe_machine
from bench.microbench import run_microbench, run_queue_check
from bench.paired import PairedCpu, PairedWorker, paired_figures, run_pairs
from bench.scrape import measure_scrape_cost
from bench.servers import bench_servers, run_targets
from bench.targets import evaluate_targets, interval_verdicts, paired_verdicts
from bench.visits import Visits, run_visits, while_undecided
from bench.workers import (
    BARE,
    BARE_NATIVE_VAD,
    IDLE_PROCESSES,
    OURS,
    OURS_COLLECTOR_DOWN,
    OURS_COLLECTOR_HANGING,
    start_worker,
    stop_worker,
)
from devtools.synthetic import ServerAccess

__all__ = ["run_bench"]

# BatchSpanProcessor's default export batch: spans out of the queue, held while exporting
_MAX_EXPORT_BATCH = 512
# what the run needs after its last cycle of visits: stop four workers, write the results
_WRAP_UP_SECONDS = 45.0


def _method(config: BenchConfig) -> dict[str, Any]:
    return {
        "time_budget_s": config.time_budget,
        "confidence": "95 % percentile bootstrap, 2000 resamples: over the probe rooms of "
        "the interleaved visits for latency, over the simultaneous pairs for CPU per job",
        "plan": asdict(config.plan),
        "visits": {
            "plan": asdict(config.visits.plan),
            "cycles": config.visits.cycles,
            "max_cycles": config.visits.max_cycles,
            "order": "every worker once per cycle, in the order of a row of a Williams square "
            "(over four cycles each comes first, and follows each other, equally often)",
        },
        "pairs": asdict(config.pairs),
        "jobs_per_run": config.plan.jobs,
        "capacity": {
            "max_rooms": config.capacity_max_rooms,
            "probe_rooms": config.capacity_probes,
            "time_limit_s": config.capacity_time_limit,
        },
        "micro_events": config.micro_events,
        "scrapes": config.scrapes,
        "workers": {
            "mode": "dev",
            "idle_processes": IDLE_PROCESSES,
            "num_cpus_env": 4,
            "log_level": "INFO",
            "otlp": "http/protobuf (the default) to a real Collector on loopback (ours)",
        },
    }


def _visits(
    config: BenchConfig,
    servers: dict[str, Any],
    work_dir: Path,
    say: Callable[[str], None],
    started: float,
) -> Visits:
    """Every worker's whole workload, then the interleaved visits at 20 rooms."""
    kinds = (BARE, OURS, OURS_COLLECTOR_DOWN, OURS_COLLECTOR_HANGING)

    # time is kept for stopping the workers and writing the results
    another_cycle = while_undecided(
        lambda visits: interval_verdicts(latency_figures(visits.latency_runs())),
        started=started,
        budget=config.time_budget - _WRAP_UP_SECONDS,
        max_cycles=config.visits.max_cycles,
        say=say,
    )
    targets = run_targets(kinds, servers, work_dir)
    return run_visits(kinds, targets, config.plan, config.visits, say, another_cycle=another_cycle)


def _pairs(
    config: BenchConfig, servers: dict[str, Any], work_dir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """CPU per job from simultaneous pairs of rooms, bare and ours side by side (with the
    VAD-matched bare worker as a third, for reference)."""
    spec = config.pairs
    started = time.monotonic()
    workers: list[PairedWorker] = []

    def another_block(paired: PairedCpu) -> bool:
        verdicts = paired_verdicts(paired_figures(paired))
        undecided = sorted(name for name, v in verdicts.items() if v == "INCONCLUSIVE")
        if not undecided:
            return False
        elapsed = time.monotonic() - started
        measured = len(paired.pairs) + paired.failed_pairs
        fits = elapsed + elapsed / max(1, measured) * spec.block <= spec.time_limit
        say(
            f"after {len(paired.pairs)} pairs inconclusive: {', '.join(undecided)}; "
            + (f"{spec.block} more pairs" if fits else "no time left for more pairs")
        )
        return fits

    try:
        for kind in (BARE, OURS, BARE_NATIVE_VAD):
            process = start_worker(
                kind,
                servers["access"],
                work_dir / f"pairs-{kind.name}",
                servers["otlp"],
                cpus=servers["worker_cpus"],
            )
            workers.append(PairedWorker(kind, process))
        paired = run_pairs(servers["access"], workers, spec, say, another_block=another_block)
    finally:
        for worker in workers:
            stop_worker(worker.process)
    return paired_figures(paired)


def _capacity(
    config: BenchConfig, servers: dict[str, Any], work_dir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    access: ServerAccess = servers["access"]
    searches: list[CapacitySearch] = []
    try:
        for kind in (BARE, OURS):
            worker = start_worker(
                kind,
                access,
                work_dir / f"capacity-{kind.name}",
                servers["otlp"],
                cpus=servers["worker_cpus"],
            )
            searches.append(CapacitySearch(kind, worker, upper=config.capacity_max_rooms))
        return search_capacity(
            searches,
            access,
            plan=config.plan,
            probes=config.capacity_probes,
            time_limit=config.capacity_time_limit,
            say=say,
        )
    finally:
        for search in searches:
            stop_worker(search.worker)


def _measure(
    config: BenchConfig,
    servers: dict[str, Any],
    work_dir: Path,
    say: Callable[[str], None],
    started: float,
) -> dict[str, Any]:
    say("instrumentation microbenchmark (handlers with the real provider and metrics)")
    micro = run_microbench(config.micro_events)
    queue = run_queue_check(servers["unreachable"])
    queue["bound_bytes"] = (queue["max_queue"] + _MAX_EXPORT_BATCH) * queue["bytes_per_span"]
    say("scrape cost after 10 and 1,000 jobs (synthetic job processes, real endpoint)")
    synthetic = measure_scrape_cost(config.scrapes, say)
    say(f"CPU per job: {config.pairs.pairs} to {config.pairs.max_pairs} simultaneous pairs")
    pairs = _pairs(config, servers, work_dir, say)
    say(f"capacity search (1..{config.capacity_max_rooms} rooms, p95 <= 1 s)")
    capacity = _capacity(config, servers, work_dir, say)
    # last, as its cycles fill the time the other phases left
    visits = _visits(config, servers, work_dir, say, started)
    return {
        "dispatch": latency_figures(visits.latency_runs()),
        "cost_per_job": cost_figures(visits.whole),
        "visits": visits_record(visits),
        "cpu_pairs": pairs,
        "instrumentation": micro,
        "scrape": {"synthetic": synthetic, "real": scrape_real(visits.whole)},
        "capacity": capacity,
        "collector_down": {"queue": queue},
        "runs": [run_record(run) for runs in visits.whole.values() for run in runs],
    }


def run_bench(config: BenchConfig, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Run every measurement of ``config``; returns the results with the targets judged."""
    started = time.monotonic()
    cycles = config.visits
    say(
        f"time budget {config.time_budget / 60:.0f} min: the capacity search (at most "
        f"{config.capacity_time_limit / 60:.0f} min), then {cycles.cycles} to "
        f"{cycles.max_cycles} cycles of visits (more while a target's 95 % interval is "
        "inconclusive and the budget allows)"
    )
    results: dict[str, Any] = {
        "schema": 1,
        "mode": config.name,
        "machine": describe_machine(),
        "method": _method(config),
    }
    with bench_servers(work_dir, results["method"], say) as servers:
        results |= _measure(config, servers, work_dir, say, started)
    results["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["targets"] = evaluate_targets(results)
    return results
