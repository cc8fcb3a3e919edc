"""The voice bench's figures and targets, from each run's turns and CPU.

Every run (one worker, one round: ``rooms`` conversations one after the other) gives the
end-to-end latency of each of its turns and the CPU its worker's process tree spent. The
latency ratios compare all turns of one side with all turns of the other, p50 and p95, with
a bootstrap interval over the turns (unpaired: a turn of ours has no partner turn of bare).
CPU per turn is one sample per run, and round ``i``'s two runs ran side by side, so its
ratio compares the medians over the rounds with an interval over the rounds, paired. The
verdicts are ``bench.confidence``'s: PASS or FAIL only when the whole interval says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.confidence import Verdict, bootstrap_ratio, p95, verdict
from bench.stats import ratio, spread, summarize

__all__ = [
    "CPU_RATIO_MAX",
    "LATENCY_RATIO_MAX",
    "VoiceRun",
    "evaluate_voice_targets",
    "voice_figures",
    "voice_verdicts",
]

_Statistic = Callable[[Sequence[float]], float]

LATENCY_RATIO_MAX = 1.03
CPU_RATIO_MAX = 1.03
# a bootstrap over one sample is no interval: fewer samples on a side leave it INCONCLUSIVE
_MIN_SAMPLES = 2


@dataclass(frozen=True)
class VoiceRun:
    """What one worker's run measured.

    Attributes:
        e2e: each turn's end-to-end latency (s): the participant's speech end to the
            agent's first audio, as the participant hears it.
        cpu_s: CPU seconds of the worker's process tree over the run's conversations.
        seconds: the run's wall time, worker start to stop.
    """

    e2e: tuple[float, ...]
    cpu_s: float
    seconds: float = 0.0

    @property
    def cpu_per_turn(self) -> float | None:
        """CPU seconds per turn; None for a run without a measured turn."""
        return self.cpu_s / len(self.e2e) if self.e2e else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``runs`` in the results)."""
        per_turn = self.cpu_per_turn
        return {
            "turns": len(self.e2e),
            "cpu_s": round(self.cpu_s, 4),
            "cpu_s_per_turn": None if per_turn is None else round(per_turn, 4),
            "seconds": round(self.seconds, 1),
            "e2e_s": [round(v, 4) for v in self.e2e],
        }


def _turns(runs: Sequence[VoiceRun]) -> list[float]:
    return [v for run in runs for v in run.e2e]


def _paired_cpu(ours: Sequence[VoiceRun], bare: Sequence[VoiceRun]) -> tuple[list[float], ...]:
    """CPU per turn of the rounds where both runs measured a turn, pair by pair."""
    pairs = [(o.cpu_per_turn, b.cpu_per_turn) for o, b in zip(ours, bare, strict=False)]
    kept = [(o, b) for o, b in pairs if o is not None and b is not None]
    return [o for o, _ in kept], [b for _, b in kept]


def _samples(
    ours: Sequence[VoiceRun], bare: Sequence[VoiceRun]
) -> dict[str, tuple[list[float], list[float], _Statistic, bool]]:
    """Each target's samples, ours and bare, its statistic and whether they are paired."""
    e2e_ours, e2e_bare = _turns(ours), _turns(bare)
    cpu_ours, cpu_bare = _paired_cpu(ours, bare)
    return {
        "e2e_p50": (e2e_ours, e2e_bare, statistics.median, False),
        "e2e_p95": (e2e_ours, e2e_bare, p95, False),
        "cpu_per_turn": (cpu_ours, cpu_bare, statistics.median, True),
    }


def _judged(
    ours: list[float], bare: list[float], statistic: _Statistic, paired: bool, limit: float
) -> dict[str, Any]:
    """Value, ``ci95``, ``n`` and verdict; without enough samples for an interval, the
    point ratio (when there is one) and INCONCLUSIVE."""
    interval = None
    if min(len(ours), len(bare)) >= _MIN_SAMPLES:
        interval = bootstrap_ratio(ours, bare, statistic, paired=paired)
    if interval is not None:
        return {**interval.as_dict(), "verdict": verdict(interval, "<=", limit)}
    point = ratio(statistic(ours), statistic(bare)) if ours and bare else None
    n = {"ours": len(ours), "bare": len(bare)}
    return {"value": point, "ci95": None, "n": n, "verdict": verdict(None, "<=", limit)}


_TARGETS = (
    ("e2e_p50", "Voice: e2e latency per turn p50, ours / bare", LATENCY_RATIO_MAX),
    ("e2e_p95", "Voice: e2e latency per turn p95, ours / bare", LATENCY_RATIO_MAX),
    ("cpu_per_turn", "Voice: CPU per turn, ours / bare", CPU_RATIO_MAX),
)


def evaluate_voice_targets(
    ours: Sequence[VoiceRun], bare: Sequence[VoiceRun]
) -> list[dict[str, Any]]:
    """The three targets: value, ``ci95``, ``n``, limit and verdict of each.

    Args:
        ours: the project's worker's runs, round by round.
        bare: the SDK-only worker's runs, round by round (``bare[i]`` ran next to
            ``ours[i]``).
    """
    samples = _samples(ours, bare)
    return [
        {"key": key, "name": name, "op": "<=", "limit": limit, "unit": "x"}
        | _judged(*samples[key], limit)
        for key, name, limit in _TARGETS
    ]


def voice_verdicts(ours: Sequence[VoiceRun], bare: Sequence[VoiceRun]) -> dict[str, Verdict]:
    """Each target's verdict from the rounds so far (more run while one is INCONCLUSIVE)."""
    return {t["key"]: t["verdict"] for t in evaluate_voice_targets(ours, bare)}


def _side(runs: Sequence[VoiceRun]) -> dict[str, Any]:
    per_turn = [run.cpu_per_turn for run in runs]
    return {
        "e2e_s": summarize(_turns(runs)),
        "turns": len(_turns(runs)),
        "cpu_s_per_turn_by_round": [None if v is None else round(v, 4) for v in per_turn],
        "cpu_s_per_turn": spread([v for v in per_turn if v is not None]),
    }


def voice_figures(runs: Mapping[str, Sequence[VoiceRun]]) -> dict[str, Any]:
    """Each side's figures (``bare``, ``ours``) and the point ratios ours / bare."""
    figures = {name: _side(done) for name, done in runs.items()}
    ours, bare = figures["ours"], figures["bare"]
    figures["ratio_to_bare"] = {
        "e2e_p50": ratio(ours["e2e_s"]["p50"], bare["e2e_s"]["p50"]),
        "e2e_p95": ratio(ours["e2e_s"]["p95"], bare["e2e_s"]["p95"]),
        "cpu_per_turn": ratio(ours["cpu_s_per_turn"]["median"], bare["cpu_s_per_turn"]["median"]),
    }
    return figures
