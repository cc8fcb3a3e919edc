"""A short real run of the fault bench (``python -m bench.faults --quick``): the three
workers are visited on real servers and both targets are judged with an interval. Whether
they pass is the full run's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.published import README
from devtools.harness import REPO_ROOT

pytestmark = pytest.mark.integration


def test_quick_fault_bench_visits_the_three_workers_and_judges_both_targets(
    tmp_path: Path,
) -> None:
    readme = README.read_text()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert "time budget 5 min" in completed.stdout
    results = json.loads((tmp_path / "faults.json").read_text())
    loaded = results["dispatch"]["loaded"]
    for kind in ("ours", "ours_collector_down", "ours_collector_hanging"):
        joined = loaded[kind]["joined"]
        assert joined["n"] == 2, kind  # one cycle of two probe rooms
        assert 0 < joined["p50"] <= joined["p95"]
        (visit,) = results["visits"]["by_kind"][kind]
        assert set(visit["machine"]) == {"major_faults", "steal_s"}  # the machine meanwhile
    names = [target["name"] for target in results["targets"]]
    assert names == [
        "Collector down: dispatch p95 at 2 rooms, down / up",
        "Collector hanging: dispatch p95 at 2 rooms, hanging / up",
    ]
    for target in results["targets"]:
        low, high = target["ci95"]
        assert low <= target["value"] <= high
        low, high = target["ci95_by_cycle"]  # one cycle: the ratio itself
        assert low == high == target["value"]
        assert target["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
        assert target["verdict"] in completed.stdout
    assert results["method"]["affinity"] is not None
    assert "Collector hanging" in (tmp_path / "faults.md").read_text()
    assert README.read_text() == readme  # a run with --out publishes nothing
