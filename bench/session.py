"""One bench run from its command line: a working directory for the servers' and workers'
logs, its verdicts printed, and an end that cleans up whichever way the run stops.

Every bench (``python -m bench``, ``bench.faults``, ``bench.voice``, ``bench.fleet``) runs
through :func:`run_session`, so they agree on three things:

- **SIGTERM stops a bench like Ctrl-C.** Python's default for SIGTERM ends the process
  without unwinding, so no ``finally`` ran and the workers, livekit-server and the Collector
  a bench had started were left running. Here SIGTERM raises ``SystemExit(143)`` in the main
  thread, and every context manager stops what it started.
- **The logs are kept when they are needed:** the bench failed or was stopped, a target's
  verdict is FAIL in a full run (the workers' logs are the first thing to read about a
  slow visit; a quick run's verdicts rest on a handful of rooms and mean nothing), or
  ``--keep-logs`` asked. Otherwise they are deleted.
- **One line per target,** ``VERDICT: name = value [95 % CI lo, hi] (op limit)``.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["SIGTERM_EXIT_CODE", "run_session", "verdict_line"]

SIGTERM_EXIT_CODE = 128 + signal.SIGTERM


def verdict_line(target: Mapping[str, Any]) -> str:
    """``VERDICT: name = value [95 % CI lo, hi] (op limit)`` for one judged target."""
    ci = target.get("ci95")
    interval = f" [95 % CI {ci[0]}, {ci[1]}]" if ci else ""
    limit = f" ({target['op']} {target['limit']:g})" if "op" in target else ""
    return f"{target['verdict']}: {target['name']} = {target['value']}{interval}{limit}"


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(SIGTERM_EXIT_CODE)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` (so ``finally`` blocks run);
    the previous handler is restored after it."""
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_session(
    label: str,
    body: Callable[[Path], Mapping[str, Any]],
    say: Callable[[str], None],
    *,
    keep_logs: bool = False,
    keep_on_fail: bool = True,
    prefix: str = "lkw-bench-",
) -> int:
    """Run one bench in a fresh working directory and end it as the module docstring says.

    Args:
        label: the bench's name in progress lines (``fault bench``).
        body: runs the bench in the directory it is given, writes its results, and returns
            them; their ``targets`` (if any) are printed and decide whether logs are kept.
        say: the progress printer.
        keep_logs: keep the logs after a clean run too.
        keep_on_fail: keep them when a target's verdict is FAIL (not for smoke runs).
        prefix: the working directory's name prefix under the system's temporary directory.

    Returns:
        0 when every measurement ran, whatever the verdicts; 1 when the bench itself failed.
        A SIGTERM leaves as ``SystemExit(143)`` once everything is stopped.
    """
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    say(f"{label}: logs in {work_dir}")
    with _sigterm_unwinds():
        try:
            results = body(work_dir)
        except Exception as error:
            say(f"{label} failed: {type(error).__name__}: {error}; logs kept in {work_dir}")
            return 1
        except BaseException:
            say(f"{label} stopped; logs kept in {work_dir}")
            raise
    targets: Sequence[Mapping[str, Any]] = results.get("targets", [])
    for target in targets:
        say(verdict_line(target))
    failed = [target["name"] for target in targets if target["verdict"] == "FAIL"]
    if failed and keep_on_fail:
        say(f"logs kept in {work_dir}: {len(failed)} target(s) FAIL")
    elif keep_logs:
        say(f"logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    if "duration_s" in results:
        say(f"done in {results['duration_s'] / 60:.1f} min")
    return 0
