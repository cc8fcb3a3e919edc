"""``python -m bench.voice``: what the project's voice telemetry costs a spoken conversation.

Two workers run the same voice pipeline against the same local provider fakes and hear the
same espeak-ng conversation (``devtools.demo_voice``: four turns, one interruption), one
after the other, alternating over rounds: the worker with everything the project adds
(``VOICE_PIPELINE=on``, spans exported to a real Collector, live metrics) and
``bench.voice_baseline``, the same session with none of it. Compared: the end-to-end
latency of each turn as the participant hears it (its speech end → the agent's first audio)
at p50 and p95, and the CPU time of the worker's process tree per turn. Targets: ours / bare
≤ 1.03 for all three, each judged on its 95 % bootstrap interval (``bench.voice_targets``):
PASS, FAIL or INCONCLUSIVE, and more rounds run while one is inconclusive, within the time
budget. Writes ``voice.json`` and ``voice.md`` to ``bench/results/`` (or ``--out``) and, for
the default directory, the README's voice figures.

The exit code is 0 when every run ran, whatever the verdicts; 1 when the bench itself
failed; 2 for arguments out of range. The servers' and workers' logs are kept (and their
directory printed) when the bench failed or was stopped, a target FAILs, or ``--keep-logs``
asks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.progress import Progress
from bench.published import RESULTS_DIR, write_results
from bench.session import run_session
from bench.voice_report import embed_voice, render_voice
from bench.voice_run import VoiceConfig, run_voice_bench

__all__ = ["MAX_ROUNDS", "main", "parse_config"]

MAX_ROUNDS = 8
_MAX_ROOMS = 10
_MAX_BUDGET_MINUTES = 120


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.voice", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help=f"rounds at least (1-{MAX_ROUNDS}; default 3)"
    )
    parser.add_argument(
        "--rooms", type=int, default=2, help=f"conversations per run (1-{_MAX_ROOMS}; default 2)"
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=25.0,
        help="more rounds only while one fits in this time (default 25)",
    )
    parser.add_argument("--out", type=Path, default=None, help="where voice.json/.md go")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the servers' and workers' logs"
    )
    return parser


def parse_config(argv: list[str] | None) -> tuple[VoiceConfig, argparse.Namespace] | str:
    """The run's configuration and the other arguments, or the error line to print."""
    args = _parser().parse_args(argv)
    if not 1 <= args.rounds <= MAX_ROUNDS:
        return f"error: --rounds must be 1 to {MAX_ROUNDS}"
    if not 1 <= args.rooms <= _MAX_ROOMS:
        return f"error: --rooms must be 1 to {_MAX_ROOMS}"
    if not 1 <= args.budget_minutes <= _MAX_BUDGET_MINUTES:
        return f"error: --budget-minutes must be 1 to {_MAX_BUDGET_MINUTES}"
    config = VoiceConfig(args.rounds, args.rooms, MAX_ROUNDS, args.budget_minutes * 60)
    return config, args


def main(argv: list[str] | None = None) -> int:
    """Run the voice bench, write and print its figures and verdicts; returns the exit code."""
    parsed = parse_config(argv)
    if isinstance(parsed, str):
        print(parsed, flush=True)
        return 2
    config, args = parsed
    out: Path = args.out or RESULTS_DIR
    say = Progress()
    say(f"voice bench: results to {out}")
    say(
        f"time budget {config.time_budget / 60:.0f} min: {config.rounds} to "
        f"{config.max_rounds} rounds of {config.rooms} room(s) per worker (more while a "
        "target's 95 % interval is inconclusive and another round fits)"
    )

    def body(work_dir: Path) -> dict[str, Any]:
        results = run_voice_bench(config, work_dir, say)
        write_results(out, "voice", results, render_voice, embed_voice)
        say(f"wrote {out / 'voice.json'} and voice.md")
        return results

    return run_session("voice bench", body, say, keep_logs=args.keep_logs, prefix="lkw-voice-")


if __name__ == "__main__":
    raise SystemExit(main())
