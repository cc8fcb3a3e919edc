"""A short real run of the bench (``python -m bench --quick``): every figure is measured and
every target judged. Whether the targets pass is the full bench's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import REPO_ROOT

pytestmark = pytest.mark.integration

_KINDS = ("bare", "ours", "ours_collector_down", "ours_collector_hanging")
_SCENARIOS = ("single", "loaded", "ramp", "burst")
_POINTS = ("entrypoint", "joined", "connected")


def _run_quick_bench(out: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert "[00:00] bench quick" in completed.stdout  # progress is shown while it runs
    assert "time budget 5 min" in completed.stdout
    assert "CPU affinity: " in completed.stdout
    results: dict[str, Any] = json.loads((out / "latest.json").read_text())
    return results


def _assert_latencies(results: dict[str, Any]) -> None:
    for scenario in _SCENARIOS:
        figures = results["dispatch"][scenario]
        for kind in _KINDS:
            for point in _POINTS:
                summary = figures[kind][point]
                assert summary["n"] > 0, (scenario, kind, point)
                assert 0 < summary["p50"] <= summary["p95"] <= summary["p99"], summary
        for kind in ("ours", "ours_collector_down", "ours_collector_hanging"):
            assert figures["ratio_to_bare"][kind]["joined"]["p95"] > 0


def _assert_costs(results: dict[str, Any]) -> None:
    for kind in _KINDS:
        costs = results["cost_per_job"][kind]
        assert costs["net_cpu_s_per_job"]["median"] is not None
        assert costs["cpu_s_per_job"]["median"] > 0
        assert costs["job_peak_rss_mib"]["median"] > 0
        assert costs["jobs"] > 0
    assert results["cost_per_job"]["ours"]["ratio_to_bare"]["cpu_s_per_job"] > 0
    assert results["cost_per_job"]["ours"]["ratio_to_bare"]["net_cpu_s_per_job"] is not None
    pairs = results["cpu_pairs"]
    assert pairs["pairs"] + pairs["failed_pairs"] == 2
    for kind in ("bare", "ours", "bare_native_vad"):
        assert pairs[kind]["net_cpu_s_per_job"]["mean"] > 0, pairs
        assert pairs[kind]["main_cpu_s_per_job"]["n"] == pairs["pairs"]
    n = pairs["pairs"]
    for comparison in ("ours/bare", "ours/bare_native_vad", "bare_native_vad/bare"):
        assert pairs["ci95"][comparison]["net_cpu_s_per_job"]["n"] == {"ours": n, "bare": n}


def _assert_visits(results: dict[str, Any]) -> None:
    visits = results["visits"]
    assert visits["cycles"] == 1
    for kind in _KINDS:
        (visit,) = visits["by_kind"][kind]
        assert len(visit["rooms"]["ramp"]) == 2
        assert len(visit["rooms"]["loaded"]) == 2
        assert visit["jobs"] == 4
        assert visit["cpu_s"] > 0
        before, after = visits["main_rss_mib"][kind]
        assert before > 0
        assert after > 0
    # the loaded dispatch figures are the visits' probes alone
    assert results["dispatch"]["loaded"]["ours"]["joined"]["n"] == 2
    memory = results["targets"][-1]["detail"]
    assert "main_rss_growth_over_visits_mib" in memory


def _assert_other_figures(results: dict[str, Any]) -> None:
    machine = results["machine"]
    assert machine["cores"] >= 1
    assert machine["cpu_model"]
    assert machine["memory_gib"] > 0
    for variant in ("full", "without_log_lines"):
        for event in ("participant_connected", "track_published", "track_unpublished", "all"):
            timing = results["instrumentation"][variant][event]
            assert timing["n"] > 0
            assert 0 < timing["median_us"] <= timing["p99_us"]
    for mode in ("compacted", "uncompacted"):
        for jobs in ("10", "1000"):
            scrape = results["scrape"]["synthetic"][mode][jobs]
            assert scrape["median_ms"] > 0
            assert scrape["bytes"] > 0
            assert scrape["files"] > 0
    assert results["scrape"]["real"], "the real worker was scraped after real jobs"
    for kind in ("bare", "ours"):
        assert results["capacity"][kind]["probes"]
        assert results["capacity"][kind]["capacity"] >= 0
    assert results["collector_down"]["queue"]["bound_bytes"] > 0


@pytest.mark.timeout(480)
def test_quick_bench_measures_every_figure_and_judges_every_target(tmp_path: Path) -> None:
    results = _run_quick_bench(tmp_path)
    assert results["mode"] == "quick"
    _assert_latencies(results)
    _assert_costs(results)
    _assert_other_figures(results)

    targets = results["targets"]
    assert len(targets) == 8
    for target in targets:
        assert target["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE"), target
        assert target["value"] is not None, target
    # the ratios judged by an interval carry it, with their sample counts
    judged = [t for t in targets if "ci95" in t]
    assert len(judged) == 5, [t["name"] for t in judged]
    for target in judged:
        low, high = target["ci95"]
        assert low <= high, target
        assert target["n"]["ours"] > 0, target
        assert target["n"]["bare"] > 0, target
    assert results["method"]["time_budget_s"] > 0
    # one run of the whole workload each: no interval from a single pair of runs
    assert results["cost_per_job"]["ours"]["ci95"]["net_cpu_s_per_job"] is None
    assert results["method"]["pairs"]["pairs"] == 2
    _assert_visits(results)

    markdown = (tmp_path / "latest.md").read_text()
    assert "| Figure | Bare SDK | Ours | Ours / bare |" in markdown
    assert "| Figure | Collector up | Collector hanging | Hanging / up |" in markdown
    assert "CPU per job beyond idle, simultaneous pairs" in markdown
    assert "Machine: " in markdown
    assert " cores, " in markdown
    for target in targets:
        assert target["name"] in markdown
        assert f"**{target['verdict']}**" in markdown
