"""Compaction of the multiprocess directory: bounded files, monotonic counters, live gauges.

Job processes are real subprocesses recording through prometheus_client's multiprocess
mode, as the worker's job processes do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from telemetry.multiproc import MultiprocessCompactor

_JOB = """
import sys
from telemetry.metrics import WorkerMetrics
m = WorkerMetrics()
m.participant_joined("standard")
m.track_published("microphone", "audio")
m.room_connected(0.03)
m.participant_left("standard", "client_initiated")
if len(sys.argv) > 1:  # stay alive holding one participant
    m.participant_joined("sip")
    print("ready", flush=True)
    sys.stdin.read()
"""


def _run_jobs(directory: Path, count: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for _ in range(count):
        subprocess.run([sys.executable, "-c", _JOB], env=env, check=True, timeout=60)


def _scrape(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_files_pile_up_one_set_per_job_without_compaction(tmp_path: Path) -> None:
    # the failure the compactor exists for: every dead job leaves its files behind
    _run_jobs(tmp_path, 3)
    assert len(list(tmp_path.glob("*.db"))) >= 3 * 2


def test_compaction_keeps_values_and_bounds_files(tmp_path: Path) -> None:
    _run_jobs(tmp_path, 4)
    before = _scrape(tmp_path)
    compactor = MultiprocessCompactor(tmp_path)
    assert compactor.compact() > 0
    after = _scrape(tmp_path)
    # counters and histograms are kept exactly; live gauges of dead processes are gone, as
    # mark_process_dead would have done
    live_gauges = {
        ("agent_worker_active_participants", (("kind", "standard"),)),
        ("agent_worker_registered", ()),
        ("agent_worker_voice_sessions_active", ()),
    }
    assert live_gauges <= set(before)
    assert after == {k: v for k, v in before.items() if k not in live_gauges}
    names = sorted(p.name for p in tmp_path.glob("*.db"))
    assert names == ["counter_aggregate.db", "histogram_aggregate.db"]
    assert after[("agent_worker_participants_joined_total", (("kind", "standard"),))] == 4
    assert after[("agent_worker_room_connect_duration_seconds_count", ())] == 4


def test_counters_stay_monotonic_across_repeated_compactions(tmp_path: Path) -> None:
    compactor = MultiprocessCompactor(tmp_path)
    key = ("agent_worker_tracks_published_total", (("kind", "audio"), ("source", "microphone")))
    seen = []
    for _ in range(3):
        _run_jobs(tmp_path, 2)
        seen.append(_scrape(tmp_path)[key])
        compactor.compact()
        seen.append(_scrape(tmp_path)[key])
    assert seen == [2, 2, 4, 4, 6, 6]
    assert compactor.file_count() == 2


def test_live_gauges_of_running_processes_are_kept(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    live = subprocess.Popen(
        [sys.executable, "-c", _JOB, "stay"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None
        assert live.stdout.readline().strip() == "ready"
        _run_jobs(tmp_path, 2)
        MultiprocessCompactor(tmp_path).compact()
        values = _scrape(tmp_path)
        assert values[("agent_worker_active_participants", (("kind", "sip"),))] == 1
        assert values[("agent_worker_active_participants", (("kind", "standard"),))] == 0
        assert (tmp_path / f"gauge_livesum_{live.pid}.db").exists()
    finally:
        live.communicate("", timeout=30)
    MultiprocessCompactor(tmp_path).compact()
    values = _scrape(tmp_path)
    # the live gauge goes with its process; its counters are folded into the aggregate
    assert ("agent_worker_active_participants", (("kind", "sip"),)) not in values
    assert values[("agent_worker_participants_joined_total", (("kind", "sip"),))] == 1


def test_unreadable_file_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _run_jobs(tmp_path, 1)
    broken = tmp_path / "counter_999999.db"
    broken.write_bytes(b"\xff\xff\x00\x00" + b"\x00" * 60)
    MultiprocessCompactor(tmp_path, is_alive=lambda pid: False).compact()
    assert not broken.exists()
    assert "skipping unreadable metrics file counter_999999.db" in caplog.text


def test_scrape_cost_does_not_grow_with_jobs(tmp_path: Path) -> None:
    compactor = MultiprocessCompactor(tmp_path)

    def timed_scrape() -> float:
        started = time.perf_counter()
        for _ in range(20):
            _scrape(tmp_path)
        return (time.perf_counter() - started) / 20

    _run_jobs(tmp_path, 2)
    compactor.compact()
    small = timed_scrape()
    _run_jobs(tmp_path, 20)
    compactor.compact()
    large = timed_scrape()
    assert compactor.file_count() == 2
    assert large < small * 3 + 0.002
