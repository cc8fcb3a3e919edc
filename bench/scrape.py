"""Scrape cost after 10 and after 1,000 jobs, with the worker's compaction and without.

For each mode the bench starts ``bench.scrape_server`` (the worker's real endpoint, in its
own process) on an empty directory, leaves the files of 10 finished jobs in it with
``bench.jobfiles``, scrapes over HTTP, adds 990 more jobs, and scrapes again. The first
scrape after new jobs also folds their files (the worker does that every 10 s as well);
the figure is the median of the scrapes after it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from devtools.harness import REPO_ROOT, run_module_json

__all__ = ["measure_scrape_cost", "scrape_series"]

_STEPS = (10, 1000)


def _jobfiles(directory: Path, count: int) -> dict[str, Any]:
    result = run_module_json("bench.jobfiles", str(directory), str(count), timeout=600)
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} synthetic jobs failed to record")
    return result


@contextmanager
def _server(directory: Path, compact: bool) -> Iterator[str]:
    argv = [sys.executable, "-m", "bench.scrape_server", str(directory)]
    if not compact:
        argv.append("--no-compact")
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # the server prints it once it listens
        if not line.startswith("ready "):
            raise RuntimeError(f"scrape server did not start: {line!r}")
        yield f"http://127.0.0.1:{line.split()[1]}/metrics"
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def scrape_series(url: str, count: int) -> dict[str, Any]:
    """One scrape that may fold new files, then ``count`` timed steady-state scrapes."""
    timings: list[float] = []
    size = 0
    with httpx.Client(timeout=60) as client:
        for _ in range(count + 1):
            started = time.perf_counter()
            response = client.get(url, headers={"Accept": "text/plain"})
            timings.append(time.perf_counter() - started)
            response.raise_for_status()
            size = len(response.content)
    return {
        "first_ms": round(timings[0] * 1000, 2),
        "median_ms": round(statistics.median(timings[1:]) * 1000, 2),
        "max_ms": round(max(timings[1:]) * 1000, 2),
        "bytes": size,
    }


def _mode(compact: bool, scrapes: int, say: Callable[[str], None]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lkw-scrape-") as name:
        directory = Path(name)
        with _server(directory, compact) as url:
            served = 0
            for step in _STEPS:
                _jobfiles(directory, step - served)
                served = step
                sample = scrape_series(url, scrapes)
                sample["files"] = sum(1 for _ in directory.glob("*.db"))
                results[str(step)] = sample
                say(f"  scrape {'compacted' if compact else 'uncompacted'} after {step}: {sample}")
    return results


def measure_scrape_cost(scrapes: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Scrape figures after 10 and 1,000 synthetic jobs, compacted and not."""
    return {
        "compacted": _mode(True, scrapes, say),
        "uncompacted": _mode(False, scrapes, say),
    }
