"""``python -m bench [--quick] [--out DIR]``: run the bench, write ``latest.json`` and ``.md``.

The full run (``make bench``) writes to ``bench/results/`` and replaces the figures in the
README between its bench markers. A quick run (``--quick``: small counts, a smoke test of
the whole pipeline) writes to a temporary directory unless ``--out`` says otherwise, so it
never replaces the published figures.
The exit code is 0 when every measurement ran, whatever the verdicts; 1 when the bench
itself failed. The servers' and workers' logs are kept (and their directory printed) when
the bench failed or was stopped, a full run's target FAILs, or ``--keep-logs`` asks.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench.config import FULL, QUICK
from bench.progress import Progress
from bench.published import RESULTS_DIR, write_results
from bench.report import embed, render_markdown
from bench.run import run_bench
from bench.session import run_session


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark the worker against the bare SDK."
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="where latest.json/.md go")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the servers' and workers' logs"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; returns the process exit code."""
    args = _parse(argv)
    config = QUICK if args.quick else FULL
    out: Path = args.out or (
        Path(tempfile.mkdtemp(prefix="lkw-bench-quick-")) if args.quick else RESULTS_DIR
    )
    say = Progress()
    say(f"bench {config.name}: results to {out}")

    def body(work_dir: Path) -> dict[str, Any]:
        results = run_bench(config, work_dir, say)
        write_results(out, "latest", results, render_markdown, embed)
        say(f"wrote {out / 'latest.json'} and latest.md")
        return results

    return run_session("bench", body, say, keep_logs=args.keep_logs, keep_on_fail=not args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
