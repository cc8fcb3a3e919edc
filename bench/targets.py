"""The issue's targets, each computed from the figures and judged PASS or FAIL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["evaluate_targets"]

CPU_RATIO_MAX = 1.03
DISPATCH_P95_RATIO_MAX = 1.05
SCRAPE_GROWTH_MAX = 1.5
CAPACITY_RATIO_MIN = 0.95
COLLECTOR_DOWN_LATENCY_RATIO_MAX = 1.05
# the span queue holds its bound: three queues' worth of spans may hold at most this much
# more memory than one queue's worth (the in-flight export batch, allocator slack)
_QUEUE_SLACK = 1.35


def _target(name: str, value: float | None, op: str, limit: float, unit: str) -> dict[str, Any]:
    passed = value is not None and (value <= limit if op == "<=" else value >= limit)
    return {
        "name": name,
        "value": value,
        "op": op,
        "limit": limit,
        "unit": unit,
        "verdict": "PASS" if passed else "FAIL",
    }


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
        "queue_holds_its_bound": held,
    }
    return target


def evaluate_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue with its value, its limit and its verdict."""
    costs = results["cost_per_job"]["ours"]["ratio_to_bare"]
    rooms = results["method"]["plan"]["concurrent_rooms"]
    loaded = results["dispatch"]["loaded"]
    down, up = loaded["ours_collector_down"]["joined"]["p95"], loaded["ours"]["joined"]["p95"]
    hanging = loaded["ours_collector_hanging"]["joined"]["p95"]
    checks: list[tuple[str, float | None, str, float]] = [
        ("CPU per job (beyond idle), ours / bare", costs["net_cpu_s_per_job"], "<=", CPU_RATIO_MAX),
        (
            f"Dispatch p95 at {rooms} concurrent rooms, ours / bare",
            loaded["ratio_to_bare"]["ours"]["joined"]["p95"],
            "<=",
            DISPATCH_P95_RATIO_MAX,
        ),
        (
            "Scrape latency after 1,000 jobs / after 10",
            _scrape_growth(results["scrape"]),
            "<=",
            SCRAPE_GROWTH_MAX,
        ),
        (
            "Capacity (rooms at dispatch p95 <= 1 s), ours / bare",
            _capacity_ratio(results["capacity"]),
            ">=",
            CAPACITY_RATIO_MIN,
        ),
        (
            f"Collector down: dispatch p95 at {rooms} rooms, down / up",
            round(down / up, 3) if down is not None and up else None,
            "<=",
            COLLECTOR_DOWN_LATENCY_RATIO_MAX,
        ),
        (
            f"Collector hanging: dispatch p95 at {rooms} rooms, hanging / up",
            round(hanging / up, 3) if hanging is not None and up else None,
            "<=",
            COLLECTOR_DOWN_LATENCY_RATIO_MAX,
        ),
    ]
    return [_target(name, value, op, limit, "x") for name, value, op, limit in checks] + [
        _memory_check(results)
    ]
