"""A short real run of ``python -m bench.profile``: CPU per job measured, py-spy's samples
read and split by process and package."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from devtools.harness import REPO_ROOT

pytestmark = pytest.mark.integration


def _profile(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.profile", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_profile_measures_cpu_and_reads_the_samples_of_both_processes() -> None:
    completed = _profile("--rooms", "1", "--py-spy", "ours", timeout=240)
    output = completed.stdout
    assert completed.returncode == 0, output[-4000:] + completed.stderr[-4000:]

    cpu = re.search(
        r"ours: 1 jobs in \d+ s; CPU per job ([\d.]+) s \(main process ([\d.]+) s\)", output
    )
    assert cpu is not None, output
    assert float(cpu[1]) > float(cpu[2]) > 0
    for role in ("main", "job"):
        samples = re.search(rf"{role} process samples (\d+): (.*)", output)
        assert samples is not None, output
        assert int(samples[1]) > 0
        assert "livekit-agents" in samples[2]


def test_an_unknown_variant_is_refused_before_any_server_starts() -> None:
    completed = _profile("nope", timeout=30)

    assert completed.returncode == 2
    assert "unknown variant 'nope'" in completed.stderr
