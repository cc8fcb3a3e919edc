"""Percentiles, medians and ratios of the benchmark's samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

__all__ = ["percentile", "ratio", "spread", "summarize"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None for no values.

    Args:
        values: the samples, in any order.
        q: the percentile, 0 to 100.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    if fraction == 0 or ordered[high] == ordered[low]:
        return ordered[low]  # also keeps an infinite sample from turning into NaN
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def summarize(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Count, p50, p95, p99, min and max of ``values`` (None where there are none)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "n": len(values),
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "p99": rounded(percentile(values, 99)),
        "min": rounded(min(values) if values else None),
        "max": rounded(max(values) if values else None),
    }


def spread(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """The median of repeated measurements and their range, for noisy machines."""
    if not values:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def ratio(ours: float | None, baseline: float | None, digits: int = 3) -> float | None:
    """``ours / baseline``, or None when either is missing or the baseline is zero."""
    if ours is None or baseline is None or baseline <= 0:
        return None
    return round(ours / baseline, digits)
