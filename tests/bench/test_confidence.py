"""Bootstrap intervals and verdicts: the statistics every bench target is judged by."""

from __future__ import annotations

import random
import statistics

import pytest

from bench.confidence import (
    Interval,
    Verdict,
    bootstrap_ratio,
    bootstrap_ratio_by_group,
    more_rounds,
    more_rounds_said,
    p95,
    verdict,
)


def _noisy(centre: float, spread: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(centre, spread) for _ in range(n)]


def test_the_interval_brackets_the_estimate_and_counts_the_samples() -> None:
    ours, bare = _noisy(1.10, 0.05, 30, 1), _noisy(1.00, 0.05, 20, 2)
    interval = bootstrap_ratio(ours, bare)
    assert interval is not None
    assert interval.low < interval.estimate < interval.high
    assert interval.estimate == pytest.approx(statistics.median(ours) / statistics.median(bare))
    assert (interval.n_ours, interval.n_bare) == (30, 20)
    assert interval.as_dict()["n"] == {"ours": 30, "bare": 20}


def test_more_samples_give_a_narrower_interval() -> None:
    few = bootstrap_ratio(_noisy(1.0, 0.1, 5, 3), _noisy(1.0, 0.1, 5, 4))
    many = bootstrap_ratio(_noisy(1.0, 0.1, 200, 3), _noisy(1.0, 0.1, 200, 4))
    assert few is not None
    assert many is not None
    assert many.high - many.low < (few.high - few.low) / 2


def test_the_same_samples_give_the_same_interval() -> None:
    ours, bare = _noisy(1.0, 0.1, 10, 5), _noisy(1.0, 0.1, 10, 6)
    assert bootstrap_ratio(ours, bare) == bootstrap_ratio(ours, bare)


def test_pairing_cancels_drift_that_hits_both_sides_of_a_round() -> None:
    drift = [0.6, 0.9, 0.7, 0.85, 0.65, 0.8]  # rounds differ by 40 %
    bare = list(drift)
    ours = [d * 1.02 for d in drift]  # ours always 2 % above, in the same round
    unpaired = bootstrap_ratio(ours, bare)
    paired = bootstrap_ratio(ours, bare, paired=True)
    assert unpaired is not None
    assert paired is not None
    assert paired.high - paired.low < 0.01 < unpaired.high - unpaired.low
    assert verdict(paired, "<=", 1.03) == "PASS"
    assert verdict(unpaired, "<=", 1.03) == "INCONCLUSIVE"


def test_p95_is_the_statistic_for_tail_latency() -> None:
    bare = [1.0] * 19 + [2.0]
    ours = [1.0] * 19 + [4.0]
    interval = bootstrap_ratio(ours, bare, p95)
    assert interval is not None
    assert interval.estimate == pytest.approx(p95(ours) / p95(bare))


@pytest.mark.parametrize(
    ("ours", "bare", "paired"),
    [([], [1.0], False), ([1.0], [], False), ([1.0], [0.0], False), ([1.0, 2.0], [1.0], True)],
)
def test_no_interval_without_samples_or_a_positive_baseline(
    ours: list[float], bare: list[float], paired: bool
) -> None:
    assert bootstrap_ratio(ours, bare, paired=paired) is None


def _at(low: float, high: float) -> Interval:
    return Interval((low + high) / 2, low, high, 5, 5)


@pytest.mark.parametrize(
    ("low", "high", "op", "expected"),
    [
        (0.98, 1.02, "<=", "PASS"),  # wholly at or under the limit
        (0.98, 1.03, "<=", "PASS"),  # touching the limit is within it
        (1.04, 1.10, "<=", "FAIL"),  # wholly over
        (1.00, 1.06, "<=", "INCONCLUSIVE"),  # straddles
        (0.96, 1.10, ">=", "PASS"),
        (0.80, 0.94, ">=", "FAIL"),
        (0.90, 1.00, ">=", "INCONCLUSIVE"),
    ],
)
def test_a_verdict_needs_the_whole_interval_on_one_side(
    low: float, high: float, op: str, expected: str
) -> None:
    limit = 1.03 if op == "<=" else 0.95
    assert verdict(_at(low, high), op, limit) == expected  # type: ignore[arg-type]


def test_a_missing_interval_decides_nothing() -> None:
    assert verdict(None, "<=", 1.03) == "INCONCLUSIVE"


def test_rounds_are_added_only_while_inconclusive_and_within_the_budget() -> None:
    budget = {"seconds_per_round": 300.0, "budget": 35 * 60.0, "max_rounds": 8}
    assert more_rounds(["PASS", "INCONCLUSIVE"], elapsed=600, rounds=3, **budget)
    assert not more_rounds(["PASS", "FAIL"], elapsed=600, rounds=3, **budget)  # decided
    assert not more_rounds(["INCONCLUSIVE"], elapsed=1900, rounds=3, **budget)  # no time
    assert not more_rounds(["INCONCLUSIVE"], elapsed=600, rounds=8, **budget)  # cap


def test_targets_with_an_interval_are_judged_by_it() -> None:
    from bench.targets import interval_verdicts, paired_verdicts

    def ci(low: float, high: float) -> dict[str, object]:
        return {"value": (low + high) / 2, "ci95": [low, high], "n": {"ours": 6, "bare": 6}}

    pairs = {
        "ci95": {"ours/bare": {"net_cpu_s_per_job": ci(0.97, 1.02), "main_cpu_s_per_job": None}}
    }
    latency = {
        "loaded": {
            "ci95": {
                "ours/bare": {"joined_p95": ci(1.06, 1.2)},
                "ours_collector_down/ours": {"joined_p95": ci(0.9, 1.3)},
            }
        }
    }
    assert paired_verdicts(pairs) == {
        "cpu": "PASS",
        "main_cpu": "INCONCLUSIVE",  # no interval yet
    }
    assert interval_verdicts(latency) == {
        "dispatch": "FAIL",
        "collector_down": "INCONCLUSIVE",
        "collector_hanging": "INCONCLUSIVE",
    }


def test_more_rounds_said_names_the_undecided_targets() -> None:
    said: list[str] = []

    def another(verdicts: dict[str, Verdict], elapsed: float, rounds: int) -> bool:
        return more_rounds_said(
            verdicts,
            elapsed=elapsed,
            seconds_per_round=400.0,
            budget=2100.0,
            rounds=rounds,
            max_rounds=8,
            say=said.append,
        )

    undecided: dict[str, Verdict] = {
        "cpu": "INCONCLUSIVE",
        "capacity": "PASS",
        "dispatch": "INCONCLUSIVE",
    }
    assert another(undecided, elapsed=600, rounds=3)
    assert not another(undecided, elapsed=1900, rounds=4)  # no time
    assert not another({"cpu": "PASS"}, elapsed=600, rounds=3)  # decided: nothing said
    assert said == [
        "after 3 round(s) inconclusive: cpu, dispatch; another round",
        "after 4 round(s) inconclusive: cpu, dispatch; no time or rounds left for another",
    ]


def test_more_rounds_said_counts_in_the_unit_it_is_given() -> None:
    said: list[str] = []
    verdicts: dict[str, Verdict] = {"collector_hanging": "INCONCLUSIVE"}
    common = {"seconds_per_round": 170.0, "budget": 1680.0, "max_rounds": 12, "unit": "cycle"}
    assert more_rounds_said(verdicts, elapsed=900, rounds=5, say=said.append, **common)
    assert not more_rounds_said(verdicts, elapsed=900, rounds=12, say=said.append, **common)
    assert said == [
        "after 5 cycle(s) inconclusive: collector_hanging; another cycle",
        "after 12 cycle(s) inconclusive: collector_hanging; no time or cycles left for another",
    ]


def test_resampling_whole_groups_widens_the_interval_that_one_slow_group_makes() -> None:
    steady = [[0.30 + 0.01 * i for i in range(20)] for _ in range(10)]
    one_slow = [list(group) for group in steady]
    one_slow[7] = [value * 4 for value in one_slow[7]]  # a visit the machine slowed down
    flat = [value for group in one_slow for value in group]
    flat_steady = [value for group in steady for value in group]
    by_room = bootstrap_ratio(flat, flat_steady, p95)
    by_group = bootstrap_ratio_by_group(one_slow, steady, p95)
    assert by_room is not None
    assert by_group is not None
    assert by_group.estimate == pytest.approx(by_room.estimate)
    assert (by_group.n_ours, by_group.n_bare) == (200, 200)
    assert by_group.high - by_group.low > 2 * (by_room.high - by_room.low)
    assert by_group.low < 1.05 < by_room.low  # rooms alone would call it a clear regression


def test_groups_must_pair_up() -> None:
    assert bootstrap_ratio_by_group([[1.0]], [[1.0], [1.0]]) is None
    assert bootstrap_ratio_by_group([], []) is None
    assert bootstrap_ratio_by_group([[]], [[1.0]]) is None
