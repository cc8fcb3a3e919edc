"""``python -m bench [--quick] [--out DIR]``: run the bench, write ``latest.json`` and ``.md``.

The full run (``make bench``) writes to ``bench/results/`` and replaces the figures in the
README between its bench markers. A quick run (``--quick``: small counts, a smoke test of
the whole pipeline) writes to a temporary directory unless ``--out`` says otherwise, so it
never replaces the published figures.
The exit code is 0 when every measurement ran, whatever the verdicts; 1 when the bench
itself failed (its servers' and workers' logs are then kept and their directory printed).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.config import FULL, QUICK
from bench.progress import Progress
from bench.published import RESULTS_DIR, write_results
from bench.report import embed, render_markdown
from bench.run import run_bench


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
    work_dir = Path(tempfile.mkdtemp(prefix="lkw-bench-"))
    say(f"bench {config.name}: results to {out}, logs in {work_dir}")
    try:
        results = run_bench(config, work_dir, say)
    except Exception as error:
        say(f"bench failed: {type(error).__name__}: {error}; logs kept in {work_dir}")
        raise SystemExit(1) from error
    write_results(out, "latest", results, render_markdown, embed)
    for target in results["targets"]:
        limit = f"{target['op']} {target['limit']:g}"
        interval = (
            f" [95 % CI {target['ci95'][0]}, {target['ci95'][1]}]" if "ci95" in target else ""
        )
        say(f"{target['verdict']}: {target['name']} = {target['value']}{interval} ({limit})")
    if not args.keep_logs:
        shutil.rmtree(work_dir, ignore_errors=True)
    say(f"done in {results['duration_s'] / 60:.1f} min; wrote {out / 'latest.json'} and latest.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
