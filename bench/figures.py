"""From the runs' raw measurements to the figures: pooled percentiles, medians, ratios.

Latencies of one scenario are pooled over all runs of a worker (its whole workload and its
visits, ``bench.visits``; every room counts once) and compared at p50/p95/p99; costs per run
(CPU per job, memory) are compared by their median over the runs, with each run's value kept
to show the spread. A failed room
(its agent never came) is left out of the percentiles and counted in ``failed_rooms``.

Every ratio ours / bare that a target judges also gets a 95 % bootstrap confidence interval
and its sample counts (``ci95``, see ``bench.confidence``): over the probe rooms for a
latency percentile, over the runs (paired, run by run, when there are two or more) for CPU
per job.

CPU per job is given two ways: beyond idle (the tree's CPU over the workload minus what the
same worker burns idle in the same time, per job: the cost a job adds), which the target
uses, and all in (idle time included), whose difference is the idle overhead, also shown.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.confidence import Interval, bootstrap_ratio, bootstrap_ratio_by_group, p95
from bench.dispatch import WorkerRun
from bench.load import RoomTiming
from bench.stats import ratio, spread, summarize
from bench.visits import Visits

__all__ = [
    "cost_figures",
    "cycle_interval",
    "latency_figures",
    "run_record",
    "scrape_real",
    "visits_record",
]

MIB = 2**20
_SCENARIOS = ("single", "loaded", "ramp", "burst")
_POINTS = ("entrypoint", "joined", "connected")


def _latencies(timings: Sequence[RoomTiming], point: str) -> list[float]:
    values = [getattr(t, f"{point}_latency") for t in timings if t.error is None]
    return [v for v in values if v is not None]


def _scenario(runs: Sequence[WorkerRun], scenario: str) -> dict[str, Any]:
    rooms = [t for run in runs for t in getattr(run, scenario)]
    figures: dict[str, Any] = {point: summarize(_latencies(rooms, point)) for point in _POINTS}
    figures["failed_rooms"] = sum(1 for t in rooms if t.error is not None)
    figures["p95_joined_by_run"] = [
        summarize(_latencies(getattr(run, scenario), "joined"))["p95"] for run in runs
    ]
    return figures


def latency_figures(by_kind: dict[str, list[WorkerRun]]) -> dict[str, Any]:
    """Per scenario: each worker's pooled latencies, and ours/bare ratios per percentile."""
    result: dict[str, Any] = {}
    for scenario in _SCENARIOS:
        figures = {kind: _scenario(runs, scenario) for kind, runs in by_kind.items()}
        ratios: dict[str, Any] = {}
        for kind in by_kind:
            if kind == "bare" or "bare" not in by_kind:
                continue
            ratios[kind] = {
                point: {
                    q: ratio(figures[kind][point][q], figures["bare"][point][q])
                    for q in ("p50", "p95", "p99")
                }
                for point in _POINTS
            }
        figures["ratio_to_bare"] = ratios
        figures["ci95"] = _latency_intervals(by_kind, scenario)
        result[scenario] = figures
    return result


def _latency_intervals(by_kind: dict[str, list[WorkerRun]], scenario: str) -> dict[str, Any]:
    """The p95 (created to joined) of each worker against bare's, and the collector-down
    and hanging workers against ours, bootstrapped over the rooms."""

    def joined(kind: str) -> list[float]:
        return _latencies(
            [t for run in by_kind.get(kind, []) for t in getattr(run, scenario)], "joined"
        )

    against_bare = [kind for kind in by_kind if kind != "bare"] if "bare" in by_kind else []
    pairs = {f"{kind}/bare": (kind, "bare") for kind in against_bare}
    pairs |= {f"{kind}/ours": (kind, "ours") for kind in by_kind if kind.startswith("ours_")}
    intervals = {}
    for name, (num, den) in pairs.items():
        interval = bootstrap_ratio(joined(num), joined(den), p95)
        intervals[name] = {"joined_p95": interval.as_dict() if interval else None}
    return intervals


def cycle_interval(visits: Visits, kind: str, against: str) -> Interval | None:
    """The p95 ratio (created to joined, probe rooms) of ``kind`` to ``against`` with whole
    cycles, not single probe rooms, resampled (``bootstrap_ratio_by_group``): wider where a
    visit moved as a whole."""

    def cycles(name: str) -> list[list[float]]:
        return [_latencies(run.loaded, "joined") for run in visits.visits.get(name, [])]

    num, den = cycles(kind), cycles(against)
    both = min(len(num), len(den))
    return bootstrap_ratio_by_group(num[:both], den[:both], p95)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _cpu_figures(runs: Sequence[WorkerRun]) -> dict[str, Any]:
    phases = sorted({name for run in runs for name in run.phases})
    return {
        "net_cpu_s_per_job": spread(_present([r.net_cpu_per_job for r in runs])),
        "cpu_s_per_job": spread(_present([r.cpu_per_job for r in runs])),
        "main_cpu_s_per_job": spread([r.cpu_main / r.jobs for r in runs if r.jobs]),
        "idle_cores": spread([r.idle_cores for r in runs]),
        "neighbours_cores": {
            name: spread([r.neighbours_cpu[name] / r.seconds for r in runs if r.seconds])
            for name in ("load_generator", "livekit_server")
            if all(name in r.neighbours_cpu for r in runs)
        },
        "cpu_s_per_job_by_phase": {
            name: spread(
                [r.phases[name].cpu / r.phases[name].jobs for r in runs if name in r.phases]
            )
            for name in phases
        },
    }


def _memory_figures(runs: Sequence[WorkerRun]) -> dict[str, Any]:
    rss = [r / MIB for run in runs for r in run.job_peak_rss]
    return {
        "job_peak_rss_mib": {
            "median": round(_median(rss) or 0.0, 1),
            "max": round(max(rss), 1) if rss else None,
            "processes": len(rss),
        },
        "main_rss_growth_mib": spread([(r.main_rss_after - r.main_rss_before) / MIB for r in runs]),
    }


def cost_figures(by_kind: dict[str, list[WorkerRun]]) -> dict[str, Any]:
    """CPU per job, main-process CPU, idle CPU and memory, per worker, with ratios."""
    result: dict[str, Any] = {
        kind: {**_cpu_figures(runs), **_memory_figures(runs), "jobs": sum(r.jobs for r in runs)}
        for kind, runs in by_kind.items()
    }
    for kind, runs in by_kind.items():
        if kind == "bare":
            continue
        ours, bare = result[kind], result["bare"]
        ours["ratio_to_bare"] = {
            key: ratio(ours[key]["median"], bare[key]["median"])
            for key in ("net_cpu_s_per_job", "cpu_s_per_job", "idle_cores")
        }
        ours["ratio_to_bare"]["job_peak_rss"] = ratio(
            ours["job_peak_rss_mib"]["median"], bare["job_peak_rss_mib"]["median"]
        )
        ours["ratio_to_bare"]["net_cpu_by_round"] = _round_ratios(runs, by_kind["bare"])
        ours["ci95"] = _cost_intervals(runs, by_kind["bare"])
    return result


def _cost_intervals(ours: Sequence[WorkerRun], bare: Sequence[WorkerRun]) -> dict[str, Any]:
    """CPU per job (beyond idle, and the main process's), ours / bare, bootstrapped over the
    runs in pairs (run ``i`` of each ran next to the other's): none from fewer than two."""
    pairs = [(o, b) for o, b in zip(ours, bare, strict=False) if o.jobs and b.jobs]
    if len(pairs) < 2:
        return {"net_cpu_s_per_job": None, "main_cpu_s_per_job": None}
    net = [(o.net_cpu_per_job, b.net_cpu_per_job) for o, b in pairs]
    net_pairs = [(o, b) for o, b in net if o is not None and b is not None]
    intervals = {
        "net_cpu_s_per_job": bootstrap_ratio(
            [o for o, _ in net_pairs], [b for _, b in net_pairs], paired=True
        ),
        "main_cpu_s_per_job": bootstrap_ratio(
            [o.cpu_main / o.jobs for o, _ in pairs],
            [b.cpu_main / b.jobs for _, b in pairs],
            paired=True,
        ),
    }
    return {key: i.as_dict() if i else None for key, i in intervals.items()}


def _round_ratios(ours: Sequence[WorkerRun], bare: Sequence[WorkerRun]) -> list[float | None]:
    return [ratio(o.net_cpu_per_job, b.net_cpu_per_job) for o, b in zip(ours, bare, strict=False)]


def scrape_real(by_kind: dict[str, list[WorkerRun]]) -> list[dict[str, Any]]:
    """The scrapes of the real worker after real jobs, per run."""
    return [
        {
            "kind": kind,
            "jobs": s.jobs,
            "median_ms": round(s.median_seconds * 1000, 2),
            "first_ms": round(s.first_seconds * 1000, 2),
            "bytes": s.bytes,
            "files": s.files,
        }
        for kind, runs in by_kind.items()
        for run in runs
        for s in run.scrapes
    ]


def run_record(run: WorkerRun) -> dict[str, Any]:
    """One run's raw numbers, for the JSON (latencies in seconds, per room)."""
    return {
        "kind": run.kind,
        "jobs": run.jobs,
        "workload_s": round(run.seconds, 1),
        "cpu_total_s": round(run.cpu_total, 3),
        "cpu_main_s": round(run.cpu_main, 3),
        "idle_cores": round(run.idle_cores, 4),
        "phases": {
            name: {
                "jobs": phase.jobs,
                "cpu_s": round(phase.cpu, 3),
                "main_cpu_s": round(phase.main, 3),
                "seconds": round(phase.seconds, 1),
            }
            for name, phase in run.phases.items()
        },
        "main_rss_mib": [round(run.main_rss_before / MIB, 1), round(run.main_rss_after / MIB, 1)],
        "neighbours_cores": {
            name: round(cpu / run.seconds, 3) if run.seconds else None
            for name, cpu in run.neighbours_cpu.items()
        },
        "rooms": _rooms(run, _SCENARIOS),
    }


def _rooms(run: WorkerRun, scenarios: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    return {
        scenario: [
            {
                "joined_s": _rounded(t.joined_latency),
                "entrypoint_s": _rounded(t.entrypoint_latency),
                "connected_s": _rounded(t.connected_latency),
                "error": t.error,
            }
            for t in getattr(run, scenario)
        ]
        for scenario in scenarios
    }


def visits_record(visits: Visits) -> dict[str, Any]:
    """The visits' raw numbers, for the JSON: per worker, each visit's rooms and CPU, and
    the main process's memory over all of them."""
    return {
        "cycles": visits.cycles,
        "seconds": round(visits.seconds, 1),
        "main_rss_mib": {
            kind: [round(before / MIB, 1), round(after / MIB, 1)]
            for kind, (before, after) in visits.main_rss.items()
        },
        "by_kind": {
            kind: [
                {
                    "jobs": run.jobs,
                    "cpu_s": round(run.cpu_total, 3),
                    "main_cpu_s": round(run.cpu_main, 3),
                    "seconds": round(run.seconds, 1),
                    "machine": run.machine,
                    "rooms": _rooms(run, ("ramp", "loaded")),
                }
                for run in runs
            ]
            for kind, runs in visits.visits.items()
        },
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
