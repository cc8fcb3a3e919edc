"""Ratios with 95 % bootstrap confidence intervals, and verdicts that respect them.

One median or one p95 per round cannot decide a 3 % target when rounds differ by 20 %
(bench/README.md). Each ratio is therefore reported with a percentile bootstrap interval:
resample the samples (probe rooms for a latency, rounds for CPU per job), recompute the
ratio, and take the 2.5th and 97.5th percentiles of the resampled ratios. A target is PASS
when the whole interval is on the right side of its limit, FAIL when the whole interval is
on the wrong side, INCONCLUSIVE otherwise; the bench adds rounds while any target is
inconclusive, within its time budget (:func:`more_rounds`).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench.stats import percentile

__all__ = [
    "Interval",
    "Verdict",
    "bootstrap_ratio",
    "bootstrap_ratio_by_group",
    "more_rounds",
    "more_rounds_said",
    "p95",
    "verdict",
]

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
Statistic = Callable[[Sequence[float]], float]

_RESAMPLES = 2000


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (linear interpolation) of non-empty ``values``."""
    result = percentile(values, 95)
    assert result is not None
    return result


@dataclass(frozen=True)
class Interval:
    """A ratio, ours / bare, with its 95 % bootstrap confidence interval.

    Attributes:
        estimate: the ratio of the statistic over all samples.
        low: the interval's lower end.
        high: the interval's upper end.
        n_ours: samples of the numerator.
        n_bare: samples of the denominator.
    """

    estimate: float
    low: float
    high: float
    n_ours: int
    n_bare: int

    def as_dict(self, digits: int = 3) -> dict[str, Any]:
        """The JSON form: the ratio, its interval and the sample counts."""
        return {
            "value": round(self.estimate, digits),
            "ci95": [round(self.low, digits), round(self.high, digits)],
            "n": {"ours": self.n_ours, "bare": self.n_bare},
        }


def bootstrap_ratio(
    ours: Sequence[float],
    bare: Sequence[float],
    statistic: Statistic = statistics.median,
    *,
    paired: bool = False,
    resamples: int = _RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """``statistic(ours) / statistic(bare)`` with a percentile bootstrap interval.

    Args:
        ours: the numerator's samples (e.g. CPU per job of each round, ours).
        bare: the denominator's samples.
        statistic: what is compared (median by default; :func:`p95` for tail latency).
        paired: the samples are pairs (round ``i`` of ours ran next to round ``i`` of
            bare): resample the pairs together, which cancels slow drift of the machine.
        resamples: bootstrap resamples.
        confidence: the interval's coverage.
        seed: the resampling's seed (the same samples give the same interval).

    Returns:
        The interval, or None when a side has no samples or a statistic is not positive.
    """
    if not ours or not bare or (paired and len(ours) != len(bare)):
        return None
    denominator = statistic(bare)
    if denominator <= 0:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        if paired:
            picks = [rng.randrange(len(ours)) for _ in ours]
            num, den = [ours[i] for i in picks], [bare[i] for i in picks]
        else:
            num, den = rng.choices(ours, k=len(ours)), rng.choices(bare, k=len(bare))
        resampled = statistic(den)
        if resampled > 0:
            ratios.append(statistic(num) / resampled)
    tail = (1 - confidence) / 2 * 100
    low, high = percentile(ratios, tail), percentile(ratios, 100 - tail)
    if low is None or high is None:
        return None
    return Interval(statistic(ours) / denominator, low, high, len(ours), len(bare))


def bootstrap_ratio_by_group(
    ours: Sequence[Sequence[float]],
    bare: Sequence[Sequence[float]],
    statistic: Statistic = p95,
    *,
    resamples: int = _RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """:func:`bootstrap_ratio` over whole groups: ``statistic`` of all of ours' samples over
    that of all of bare's, resampling group ``i`` of both together (one cycle's visits).

    Samples of one group share its moment (a visit that the machine slowed down slows all
    of its probe rooms), so resampling single samples understates how much the ratio could
    move; resampling groups does not, at the price of a wider interval.

    Returns:
        The interval (sample counts as ``n``), or None without groups or with a different
        number of groups on each side.
    """
    if not ours or len(ours) != len(bare):
        return None
    flat_ours = [value for group in ours for value in group]
    flat_bare = [value for group in bare for value in group]
    if not flat_ours or not flat_bare or statistic(flat_bare) <= 0:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(len(ours)) for _ in ours]
        num = [value for i in picks for value in ours[i]]
        den = [value for i in picks for value in bare[i]]
        if num and den and statistic(den) > 0:
            ratios.append(statistic(num) / statistic(den))
    tail = (1 - confidence) / 2 * 100
    low, high = percentile(ratios, tail), percentile(ratios, 100 - tail)
    if low is None or high is None:
        return None
    estimate = statistic(flat_ours) / statistic(flat_bare)
    return Interval(estimate, low, high, len(flat_ours), len(flat_bare))


def verdict(interval: Interval | None, op: Literal["<=", ">="], limit: float) -> Verdict:
    """PASS when the whole interval meets ``op limit``, FAIL when none of it does."""
    if interval is None:
        return "INCONCLUSIVE"
    if op == "<=":
        if interval.high <= limit:
            return "PASS"
        return "FAIL" if interval.low > limit else "INCONCLUSIVE"
    if interval.low >= limit:
        return "PASS"
    return "FAIL" if interval.high < limit else "INCONCLUSIVE"


def more_rounds(
    verdicts: Sequence[Verdict],
    *,
    elapsed: float,
    seconds_per_round: float,
    budget: float,
    rounds: int,
    max_rounds: int,
) -> bool:
    """Whether to run another round: a target is still inconclusive, and one more round
    (as long as the slowest so far) ends within the time budget and the round cap."""
    if "INCONCLUSIVE" not in verdicts or rounds >= max_rounds:
        return False
    return elapsed + seconds_per_round <= budget


def more_rounds_said(
    verdicts: Mapping[str, Verdict],
    *,
    elapsed: float,
    seconds_per_round: float,
    budget: float,
    rounds: int,
    max_rounds: int,
    say: Callable[[str], None],
    unit: str = "round",
) -> bool:
    """:func:`more_rounds` over named verdicts, saying which targets are still undecided
    (counted in ``unit``: rounds, or the visits' cycles)."""
    another = more_rounds(
        list(verdicts.values()),
        elapsed=elapsed,
        seconds_per_round=seconds_per_round,
        budget=budget,
        rounds=rounds,
        max_rounds=max_rounds,
    )
    undecided = sorted(name for name, v in verdicts.items() if v == "INCONCLUSIVE")
    if undecided:
        say(
            f"after {rounds} {unit}(s) inconclusive: {', '.join(undecided)}; "
            + (f"another {unit}" if another else f"no time or {unit}s left for another")
        )
    return another
