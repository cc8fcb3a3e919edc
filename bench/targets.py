"""The issue's targets, each computed from the figures and judged.

A ratio with a bootstrap interval (``ci95`` in the figures, see ``bench.confidence``) is
PASS when the whole interval meets the limit, FAIL when none of it does, INCONCLUSIVE
otherwise; a figure without samples to resample (the scrape growth, the memory check, the
capacity, one search per worker) is judged on its value alone, PASS or FAIL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.confidence import Interval, Verdict, verdict

__all__ = ["evaluate_targets", "fault_targets", "interval_verdicts", "paired_verdicts"]

CPU_RATIO_MAX = 1.03
MAIN_CPU_RATIO_MAX = 1.10
DISPATCH_P95_RATIO_MAX = 1.05
SCRAPE_GROWTH_MAX = 1.5
CAPACITY_RATIO_MIN = 0.95
COLLECTOR_DOWN_LATENCY_RATIO_MAX = 1.05
# the span queue holds its bound: three queues' worth of spans may hold at most this much
# more memory than one queue's worth (the in-flight export batch, allocator slack)
_QUEUE_SLACK = 1.35


def _target(
    name: str,
    value: float | None,
    op: str,
    limit: float,
    unit: str,
    *,
    ci95: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    passed = value is not None and (value <= limit if op == "<=" else value >= limit)
    target: dict[str, Any] = {
        "name": name,
        "value": value,
        "op": op,
        "limit": limit,
        "unit": unit,
        "verdict": "PASS" if passed else "FAIL",
    }
    if ci95 is not None:
        low, high = ci95["ci95"]
        interval = Interval(ci95["value"], low, high, ci95["n"]["ours"], ci95["n"]["bare"])
        target["value"] = ci95["value"]
        target["ci95"] = [low, high]
        target["n"] = ci95["n"]
        target["verdict"] = verdict(interval, "<=" if op == "<=" else ">=", limit)
    return target


def _capacity_ratio(capacity: Mapping[str, Any]) -> float | None:
    ours: int = capacity["ours"]["capacity"]
    bare: int = capacity["bare"]["capacity"]
    if bare == 0:
        return 1.0 if ours == 0 else None
    return round(ours / bare, 3)


def _scrape_growth(scrape: Mapping[str, Any]) -> float | None:
    compacted = scrape["synthetic"]["compacted"]
    after_10: float = compacted["10"]["median_ms"]
    after_1000: float = compacted["1000"]["median_ms"]
    return round(after_1000 / after_10, 3) if after_10 else None


def _growth(before_after: Sequence[float]) -> float:
    before, after = before_after
    return after - before


def _memory_check(results: Mapping[str, Any]) -> dict[str, Any]:
    """Collector down: job and main-process memory within the span queue's bound."""
    queue = results["collector_down"]["queue"]
    bound_mib = queue["bound_bytes"] / 2**20
    costs = results["cost_per_job"]
    down, up = costs["ours_collector_down"], costs["ours"]
    job_growth = down["job_peak_rss_mib"]["median"] - up["job_peak_rss_mib"]["median"]
    main_growth = (down["main_rss_growth_mib"]["median"] or 0.0) - (
        up["main_rss_growth_mib"]["median"] or 0.0
    )
    # the main process over every visit: hundreds of jobs' spans queued for a collector
    # that never takes them
    rss = results["visits"]["main_rss_mib"]
    visits_growth = _growth(rss["ours_collector_down"]) - _growth(rss["ours"])
    main_growth = max(main_growth, visits_growth)
    held = queue["bytes_after_3x_queue"] <= _QUEUE_SLACK * queue["bytes_after_1x_queue"]
    within = max(job_growth, main_growth) <= bound_mib and held
    target = _target(
        "Collector down: memory growth beyond collector up (MiB), within the span queue bound",
        round(max(job_growth, main_growth), 2),
        "<=",
        round(bound_mib, 2),
        "MiB",
    )
    target["verdict"] = "PASS" if within else "FAIL"
    target["detail"] = {
        "job_peak_rss_growth_mib": round(job_growth, 2),
        "main_rss_growth_mib": round(main_growth, 2),
        "main_rss_growth_over_visits_mib": round(visits_growth, 2),
        "queue_holds_its_bound": held,
    }
    return target


def evaluate_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue with its value, its limit and its verdict."""
    cost_ci = results["cpu_pairs"]["ci95"].get("ours/bare", {})
    rooms = results["method"]["plan"]["concurrent_rooms"]
    loaded = results["dispatch"]["loaded"]
    loaded_ci = loaded.get("ci95", {})
    checks: list[tuple[str, float | None, str, float, Mapping[str, Any] | None]] = [
        (
            "CPU per job (beyond idle, simultaneous pairs), ours / bare",
            None,
            "<=",
            CPU_RATIO_MAX,
            cost_ci.get("net_cpu_s_per_job"),
        ),
        (
            "Main-process CPU per job (simultaneous pairs), ours / bare",
            None,
            "<=",
            MAIN_CPU_RATIO_MAX,
            cost_ci.get("main_cpu_s_per_job"),
        ),
        (
            f"Dispatch p95 at {rooms} concurrent rooms, ours / bare",
            loaded["ratio_to_bare"]["ours"]["joined"]["p95"],
            "<=",
            DISPATCH_P95_RATIO_MAX,
            _ci(loaded_ci, "ours/bare"),
        ),
        (
            "Scrape latency after 1,000 jobs / after 10",
            _scrape_growth(results["scrape"]),
            "<=",
            SCRAPE_GROWTH_MAX,
            None,
        ),
        (
            "Capacity (rooms at dispatch p95 <= 1 s), ours / bare",
            _capacity_ratio(results["capacity"]),
            ">=",
            CAPACITY_RATIO_MIN,
            None,
        ),
    ]
    return (
        [_target(name, value, op, limit, "x", ci95=ci) for name, value, op, limit, ci in checks]
        + fault_targets(loaded, rooms)
        + [_memory_check(results)]
    )


def fault_targets(loaded: Mapping[str, Any], rooms: int) -> list[dict[str, Any]]:
    """The collector-fault latency targets, down / up and hanging / up, from the loaded
    dispatch figures (``make bench``'s, or ``python -m bench.faults``'s)."""
    loaded_ci = loaded.get("ci95", {})
    up = loaded["ours"]["joined"]["p95"]
    targets = []
    for kind, fault in (("ours_collector_down", "down"), ("ours_collector_hanging", "hanging")):
        value = loaded[kind]["joined"]["p95"]
        targets.append(
            _target(
                f"Collector {fault}: dispatch p95 at {rooms} rooms, {fault} / up",
                round(value / up, 3) if value is not None and up else None,
                "<=",
                COLLECTOR_DOWN_LATENCY_RATIO_MAX,
                "x",
                ci95=_ci(loaded_ci, f"{kind}/ours"),
            )
        )
    return targets


def _ci(intervals: Mapping[str, Any], pair: str) -> Mapping[str, Any] | None:
    found: Mapping[str, Any] | None = intervals.get(pair, {}).get("joined_p95")
    return found


def _judged(judged: Mapping[str, tuple[Mapping[str, Any] | None, float]]) -> dict[str, Verdict]:
    return {
        name: _target(name, None, "<=", limit, "x", ci95=ci)["verdict"] if ci else "INCONCLUSIVE"
        for name, (ci, limit) in judged.items()
    }


def paired_verdicts(pairs: Mapping[str, Any]) -> dict[str, Verdict]:
    """The verdicts of the CPU targets from the simultaneous pairs so far (the bench adds
    pairs while one is INCONCLUSIVE)."""
    cost_ci = pairs.get("ci95", {}).get("ours/bare", {})
    return _judged(
        {
            "cpu": (cost_ci.get("net_cpu_s_per_job"), CPU_RATIO_MAX),
            "main_cpu": (cost_ci.get("main_cpu_s_per_job"), MAIN_CPU_RATIO_MAX),
        }
    )


def interval_verdicts(latency: Mapping[str, Any]) -> dict[str, Verdict]:
    """The verdicts of the latency targets judged by an interval, from the figures so far
    (the bench adds cycles of visits while one is INCONCLUSIVE)."""
    loaded_ci = latency.get("loaded", {}).get("ci95", {})
    judged: dict[str, tuple[Mapping[str, Any] | None, float]] = {
        "dispatch": (_ci(loaded_ci, "ours/bare"), DISPATCH_P95_RATIO_MAX),
        "collector_down": (
            _ci(loaded_ci, "ours_collector_down/ours"),
            COLLECTOR_DOWN_LATENCY_RATIO_MAX,
        ),
        "collector_hanging": (
            _ci(loaded_ci, "ours_collector_hanging/ours"),
            COLLECTOR_DOWN_LATENCY_RATIO_MAX,
        ),
    }
    return _judged(judged)
