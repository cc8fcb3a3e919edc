"""CPU per job from simultaneous pairs: beyond idle, ratio of the means, the interval."""

from __future__ import annotations

import pytest

from bench.paired import JobCpu, PairedCpu, paired_figures
from bench.targets import paired_verdicts

_IDLE = {"bare": 0.02, "ours": 0.01}
_IDLE_MAIN = {"bare": 0.004, "ours": 0.002}


def _paired(ours: list[float], bare: list[float], seconds: float = 5.0) -> PairedCpu:
    """Pairs whose CPU beyond idle is ``ours`` and ``bare`` (a fifth of it in the main
    process, all in), each pair ``seconds`` long."""

    def job(kind: str, net: float) -> JobCpu:
        return JobCpu(net + _IDLE[kind] * seconds, net / 5)

    return PairedCpu(
        idle_cores=dict(_IDLE),
        idle_main_cores=dict(_IDLE_MAIN),
        pairs=[
            {"bare": job("bare", b), "ours": job("ours", o)}
            for o, b in zip(ours, bare, strict=True)
        ],
        seconds=[seconds] * len(ours),
    )


def test_each_pair_is_counted_beyond_the_workers_idle_cpu_over_its_seconds() -> None:
    paired = PairedCpu(
        idle_cores=dict(_IDLE),
        idle_main_cores=dict(_IDLE_MAIN),
        pairs=[{"bare": JobCpu(0.50, 0.10), "ours": JobCpu(0.45, 0.09)}],
        seconds=[4.0],
    )

    assert paired.net("bare") == pytest.approx([0.42])  # 0.02 cores x 4 s less
    assert paired.net("ours") == pytest.approx([0.41])  # 0.01 cores x 4 s less
    assert paired.all_in("bare") == [0.50]
    assert paired.all_in("ours", main=True) == [0.09]  # the main process: all in


def test_the_ratio_is_of_the_means_with_an_interval_over_the_pairs() -> None:
    bare = [0.40, 0.44, 0.38, 0.50, 0.42, 0.46, 0.41, 0.39]
    ours = [b * 0.9 for b in bare]  # every pair 10 % cheaper: no spread left in the ratio

    figures = paired_figures(_paired(ours, bare))

    assert figures["pairs"] == 8
    assert figures["failed_pairs"] == 0
    assert figures["ci95"]["ours/bare"]["net_cpu_s_per_job"] == {
        "value": 0.9,
        "ci95": [0.9, 0.9],
        "n": {"ours": 8, "bare": 8},
    }
    assert figures["bare"]["net_cpu_s_per_job"]["mean"] == pytest.approx(0.425)
    assert figures["ours"]["idle_cores"] == 0.01
    assert len(figures["raw"]) == 8
    assert figures["ci95"]["ours/bare"]["main_cpu_s_per_job"]["ci95"] == [0.9, 0.9]
    assert paired_verdicts(figures) == {"cpu": "PASS", "main_cpu": "PASS"}


def test_pairs_that_disagree_leave_the_verdict_open() -> None:
    bare = [0.40, 0.44, 0.38, 0.50, 0.42, 0.46]
    ours = [0.36, 0.50, 0.34, 0.56, 0.40, 0.49]

    figures = paired_figures(_paired(ours, bare))
    low, high = figures["ci95"]["ours/bare"]["net_cpu_s_per_job"]["ci95"]

    assert low < 1.03 < high
    assert paired_verdicts(figures)["cpu"] == "INCONCLUSIVE"


def test_no_pair_gives_no_interval_and_no_verdict() -> None:
    figures = paired_figures(PairedCpu(failed_pairs=3))

    assert figures["failed_pairs"] == 3
    assert figures["ci95"] == {}
    assert paired_verdicts(figures) == {"cpu": "INCONCLUSIVE", "main_cpu": "INCONCLUSIVE"}


def test_a_third_worker_splits_the_ratio_into_its_two_parts() -> None:
    paired = PairedCpu(
        idle_cores={"bare": 0.0, "ours": 0.0, "bare_native_vad": 0.0},
        idle_main_cores={"bare": 0.0, "ours": 0.0, "bare_native_vad": 0.0},
        pairs=[
            {"bare": JobCpu(b, 0.1), "bare_native_vad": JobCpu(v, 0.1), "ours": JobCpu(o, 0.1)}
            for b, v, o in ((0.40, 0.36, 0.38), (0.50, 0.45, 0.475))
        ],
        seconds=[5.0, 5.0],
    )

    intervals = paired_figures(paired)["ci95"]

    assert sorted(intervals) == ["bare_native_vad/bare", "ours/bare", "ours/bare_native_vad"]
    assert intervals["ours/bare"]["net_cpu_s_per_job"]["value"] == 0.95
    assert intervals["ours/bare_native_vad"]["net_cpu_s_per_job"]["value"] == 1.056
    assert intervals["bare_native_vad/bare"]["net_cpu_s_per_job"]["value"] == 0.9
