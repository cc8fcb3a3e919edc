"""What the forkserver builds once: a job process forked after it builds no TLS context."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worker.main import _forkserver_preload

_ROOT = Path(__file__).resolve().parents[2]

# Counts the TLS contexts built in a job process forked from a parent that imported
# `sys.argv[1]` (if any), as the SDK's forkserver forks it, when the job's HTTP session is
# opened and closed (what the SDK does at every job's end, and a plugin's first request).
_FORKED_JOB = """
import asyncio, importlib, os, ssl, sys

built = []
_create = ssl.create_default_context


def counting(*args, **kwargs):
    built.append(1)
    return _create(*args, **kwargs)


ssl.create_default_context = counting
from livekit.agents.utils import http_context

if sys.argv[1]:
    importlib.import_module(sys.argv[1])
before = len(built)
pid = os.fork()
if pid == 0:
    async def job_end():
        async with http_context.open():
            pass

    asyncio.run(job_end())
    os._exit(len(built) - before)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def _contexts_built_in_a_forked_job(preloaded: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _FORKED_JOB, preloaded],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(result.stdout.split()[-1])


def test_the_worker_preloads_its_preload_module_in_the_forkserver() -> None:
    assert _forkserver_preload() == ["worker.main", "worker.preload"]


@pytest.mark.parametrize(
    ("preloaded", "built"),
    [
        # the SDK alone: every job parses the CA bundle at its end, for a session it closes
        ("", 1),
        ("worker.preload", 0),
    ],
)
def test_a_job_forked_after_the_preload_builds_no_tls_context(preloaded: str, built: int) -> None:
    assert _contexts_built_in_a_forked_job(preloaded) == built
