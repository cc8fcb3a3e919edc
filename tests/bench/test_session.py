"""A bench run's end (``bench.session``): logs kept exactly when needed, verdict lines, and
SIGTERM unwinding like Ctrl-C so the servers and workers a bench started are stopped."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.session import SIGTERM_EXIT_CODE, run_session, verdict_line
from devtools.harness import REPO_ROOT


def _target(verdict: str) -> dict[str, Any]:
    return {
        "name": "Collector down: dispatch p95 at 20 rooms, down / up",
        "value": 1.009,
        "op": "<=",
        "limit": 1.05,
        "verdict": verdict,
        "ci95": [0.954, 1.047],
    }


class _Run:
    """A body that records its working directory and writes a log into it."""

    def __init__(self, results: Mapping[str, Any] | Exception) -> None:
        self.results = results
        self.work_dir: Path | None = None
        self.lines: list[str] = []

    def body(self, work_dir: Path) -> Mapping[str, Any]:
        self.work_dir = work_dir
        (work_dir / "worker.log").write_text("a worker's log\n")
        if isinstance(self.results, Exception):
            raise self.results
        return self.results

    def run(self, **kwargs: Any) -> int:
        return run_session("fault bench", self.body, self.lines.append, **kwargs)


def test_a_clean_run_deletes_its_logs_and_prints_each_verdict() -> None:
    run = _Run({"targets": [_target("PASS")], "duration_s": 90.0})
    assert run.run() == 0
    assert run.work_dir is not None
    assert not run.work_dir.exists()
    assert run.lines[-2:] == [
        "PASS: Collector down: dispatch p95 at 20 rooms, down / up = 1.009 "
        "[95 % CI 0.954, 1.047] (<= 1.05)",
        "done in 1.5 min",
    ]


@pytest.mark.parametrize(
    ("verdict", "kwargs", "kept"),
    [
        ("FAIL", {}, True),  # the logs are the first thing to read about a FAIL
        ("FAIL", {"keep_on_fail": False}, False),  # a quick run's verdicts mean nothing
        ("INCONCLUSIVE", {}, False),
        ("PASS", {"keep_logs": True}, True),
    ],
)
def test_logs_are_kept_when_a_full_run_fails_a_target_or_when_asked(
    verdict: str, kwargs: dict[str, bool], kept: bool
) -> None:
    run = _Run({"targets": [_target(verdict)]})
    assert run.run(**kwargs) == 0
    assert run.work_dir is not None
    assert (run.work_dir / "worker.log").exists() is kept
    assert any(f"logs kept in {run.work_dir}" in line for line in run.lines) is kept
    if kept:
        (run.work_dir / "worker.log").unlink()
        run.work_dir.rmdir()


def test_a_failed_bench_exits_1_with_one_line_and_keeps_its_logs() -> None:
    run = _Run(RuntimeError("livekit-server did not start"))
    assert run.run() == 1
    assert run.work_dir is not None
    assert (run.work_dir / "worker.log").exists()
    assert run.lines[-1] == (
        f"fault bench failed: RuntimeError: livekit-server did not start; "
        f"logs kept in {run.work_dir}"
    )
    (run.work_dir / "worker.log").unlink()
    run.work_dir.rmdir()


def test_a_target_without_a_limit_or_interval_prints_its_value() -> None:
    assert verdict_line({"name": "capacity", "value": 32, "verdict": "PASS"}) == (
        "PASS: capacity = 32"
    )


_SLEEPER = """
import sys, time
from pathlib import Path
from bench.session import run_session

marker = Path(sys.argv[1])

def body(work_dir):
    try:
        print("started", flush=True)
        time.sleep(30)
    finally:
        marker.write_text("stopped what it started")
    return {}

raise SystemExit(run_session("bench", body, lambda line: print(line, flush=True)))
"""


def test_sigterm_unwinds_the_bench_so_what_it_started_is_stopped(tmp_path: Path) -> None:
    """Python's default SIGTERM ends the process without running ``finally``: the bench's
    workers, livekit-server and Collector were left running."""
    marker = tmp_path / "finally-ran"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SLEEPER), str(marker)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        while "started" not in process.stdout.readline() and time.monotonic() < deadline:
            pass
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == SIGTERM_EXIT_CODE
    finally:
        process.kill()
        process.wait(timeout=10)
    assert marker.read_text() == "stopped what it started"
    (line,) = [line for line in process.stdout.read().splitlines() if "bench stopped" in line]
    kept = Path(line.removeprefix("bench stopped; logs kept in "))
    assert kept.is_dir()
    shutil.rmtree(kept)
