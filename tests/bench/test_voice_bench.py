"""The voice bench's targets from synthetic runs, and its command line's bounds.

The synthetic runs are chosen so every bootstrap resample has a known ratio: with a side's
samples all equal, the interval is that one ratio; with two values, it runs from one to
the other.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.voice import MAX_ROUNDS, main, parse_config
from bench.voice_run import VoiceConfig
from bench.voice_targets import VoiceRun, evaluate_voice_targets, voice_figures, voice_verdicts

_KEYS = ("e2e_p50", "e2e_p95", "cpu_per_turn")


def _run(e2e: float, turns: int, cpu_per_turn: float) -> VoiceRun:
    return VoiceRun((e2e,) * turns, cpu_per_turn * turns)


def _bare(rounds: int = 2) -> list[VoiceRun]:
    return [_run(1.0, 2, 1.0) for _ in range(rounds)]


def _by_key(targets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in targets}


def test_equal_sides_pass_with_a_point_interval() -> None:
    targets = _by_key(evaluate_voice_targets(_bare(), _bare()))
    assert targets["e2e_p50"] == {
        "key": "e2e_p50",
        "name": "Voice: e2e latency per turn p50, ours / bare",
        "op": "<=",
        "limit": 1.03,
        "unit": "x",
        "value": 1.0,
        "ci95": [1.0, 1.0],
        "n": {"ours": 4, "bare": 4},
        "verdict": "PASS",
    }
    assert targets["e2e_p95"]["verdict"] == "PASS"
    assert targets["cpu_per_turn"]["n"] == {"ours": 2, "bare": 2}
    assert (targets["cpu_per_turn"]["value"], targets["cpu_per_turn"]["ci95"]) == (1.0, [1.0, 1.0])
    assert targets["cpu_per_turn"]["verdict"] == "PASS"


def test_slower_and_costlier_ours_fails() -> None:
    ours = [_run(1.2, 2, 1.1), _run(1.2, 2, 1.1)]
    targets = _by_key(evaluate_voice_targets(ours, _bare()))
    figures = {key: (t["value"], t["ci95"], t["verdict"]) for key, t in targets.items()}
    assert figures == {
        "e2e_p50": (1.2, [1.2, 1.2], "FAIL"),
        "e2e_p95": (1.2, [1.2, 1.2], "FAIL"),
        "cpu_per_turn": (1.1, [1.1, 1.1], "FAIL"),
    }


def test_an_interval_across_the_limit_is_inconclusive() -> None:
    ours = [_run(0.9, 2, 1.0), _run(1.2, 2, 1.1)]
    targets = _by_key(evaluate_voice_targets(ours, _bare()))
    figures = {key: (t["value"], t["ci95"], t["verdict"]) for key, t in targets.items()}
    assert figures == {
        "e2e_p50": (1.05, [0.9, 1.2], "INCONCLUSIVE"),
        "e2e_p95": (1.2, [0.9, 1.2], "INCONCLUSIVE"),
        "cpu_per_turn": (1.05, [1.0, 1.1], "INCONCLUSIVE"),
    }
    assert voice_verdicts(ours, _bare()) == dict.fromkeys(_KEYS, "INCONCLUSIVE")


def test_one_round_gives_cpu_no_interval_and_no_verdict() -> None:
    targets = _by_key(evaluate_voice_targets([_run(1.0, 2, 1.2)], _bare(1)))
    assert targets["cpu_per_turn"] | {"name": ""} == {
        "key": "cpu_per_turn",
        "name": "",
        "op": "<=",
        "limit": 1.03,
        "unit": "x",
        "value": 1.2,
        "ci95": None,
        "n": {"ours": 1, "bare": 1},
        "verdict": "INCONCLUSIVE",
    }
    assert targets["e2e_p50"]["verdict"] == "PASS"  # two turns a side: an interval


def test_a_round_without_turns_leaves_its_pair_out() -> None:
    ours = [_run(1.0, 2, 1.0), VoiceRun((), 3.0), _run(1.0, 2, 1.0)]
    targets = _by_key(evaluate_voice_targets(ours, _bare(3)))
    assert targets["cpu_per_turn"]["n"] == {"ours": 2, "bare": 2}
    assert targets["e2e_p50"]["n"] == {"ours": 4, "bare": 6}
    assert ours[1].as_dict() == {
        "turns": 0,
        "cpu_s": 3.0,
        "cpu_s_per_turn": None,
        "seconds": 0.0,
        "e2e_s": [],
    }


def test_no_turns_at_all_is_inconclusive_without_a_value() -> None:
    targets = _by_key(evaluate_voice_targets([VoiceRun((), 1.0)], _bare(1)))
    assert all(t["value"] is None and t["verdict"] == "INCONCLUSIVE" for t in targets.values())


def test_figures_give_each_side_its_summary_and_cpu_per_round() -> None:
    figures = voice_figures({"bare": _bare(), "ours": [_run(0.9, 2, 1.0), _run(1.2, 2, 1.1)]})
    assert figures["bare"]["e2e_s"] == {
        "n": 4,
        "p50": 1.0,
        "p95": 1.0,
        "p99": 1.0,
        "min": 1.0,
        "max": 1.0,
    }
    assert figures["ours"]["turns"] == 4
    assert figures["ours"]["cpu_s_per_turn_by_round"] == [1.0, 1.1]
    assert figures["ours"]["cpu_s_per_turn"] == {
        "median": 1.05,
        "min": 1.0,
        "max": 1.1,
        "runs": [1.0, 1.1],
    }
    assert figures["ratio_to_bare"] == {"e2e_p50": 1.05, "e2e_p95": 1.2, "cpu_per_turn": 1.05}


def test_defaults_and_bounds_of_the_command_line() -> None:
    parsed = parse_config([])
    assert not isinstance(parsed, str)
    assert parsed[0] == VoiceConfig(rounds=3, rooms=2, max_rounds=MAX_ROUNDS, time_budget=1500.0)
    assert parsed[1].out is None
    parsed = parse_config(["--rounds", "8", "--rooms", "10", "--budget-minutes", "1"])
    assert not isinstance(parsed, str)
    assert parsed[0] == VoiceConfig(rounds=8, rooms=10, max_rounds=8, time_budget=60.0)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--rounds", "0"], "error: --rounds must be 1 to 8"),
        (["--rounds", "9"], "error: --rounds must be 1 to 8"),
        (["--rooms", "0"], "error: --rooms must be 1 to 10"),
        (["--rooms", "11"], "error: --rooms must be 1 to 10"),
        (["--budget-minutes", "0.5"], "error: --budget-minutes must be 1 to 120"),
        (["--budget-minutes", "121"], "error: --budget-minutes must be 1 to 120"),
    ],
)
def test_out_of_range_arguments_exit_2(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().out == error + "\n"
