"""The /metrics endpoint: content negotiation, exemplars, SDK gauge names, compaction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Gauge

from telemetry.exemplars import DISPATCH_LATENCY, ExemplarHistograms
from telemetry.exposition import MetricsEndpoint

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("lk_agents_active_job_count", "Active jobs", ["nodename"], registry=registry).labels(
        "n"
    ).set(2)
    return registry


def test_sdk_count_gauges_get_lint_clean_names() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", 0, registry=_registry())
    body, content_type = endpoint.render("text/plain")
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert 'lk_agents_active_jobs{nodename="n"} 2.0' in text
    assert "lk_agents_active_job_count" not in text


def test_openmetrics_with_exemplars_when_asked() -> None:
    histograms = ExemplarHistograms()
    histograms.observe(DISPATCH_LATENCY, 0.4, TRACE)
    endpoint = MetricsEndpoint(
        "127.0.0.1", 0, registry=CollectorRegistry(), extra_collectors=(histograms,)
    )
    body, content_type = endpoint.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert f'# {{trace_id="{TRACE}"}} 0.4' in body.decode()
    plain, _ = endpoint.render("")
    assert b"trace_id" not in plain


async def test_served_over_http() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", 0, registry=_registry())
    await endpoint.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{endpoint.port}/metrics")
    finally:
        await endpoint.aclose()
    assert response.status_code == 200
    assert "lk_agents_active_jobs" in response.text


def test_multiprocess_directory_is_compacted_on_scrape(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    script = "from telemetry.metrics import WorkerMetrics; WorkerMetrics().job_received()"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    endpoint = MetricsEndpoint("127.0.0.1", 0, multiproc_dir=tmp_path)
    body, _ = endpoint.render("text/plain")
    assert "agent_worker_jobs_received_total 3.0" in body.decode()
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "counter_aggregate.db",
        "histogram_aggregate.db",
    ]


def test_a_metric_file_being_created_is_left_out_of_the_scrape(tmp_path: Path) -> None:
    # a process creating its metric file opens it empty, then sizes it: a scrape in between
    # met a 0-byte file, and prometheus_client's merge raised struct.error (a failed scrape
    # with a traceback in the log)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    script = "from telemetry.metrics import WorkerMetrics; WorkerMetrics().job_received()"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    (tmp_path / f"counter_{os.getpid()}.db").touch()  # a live process, mid-creation
    endpoint = MetricsEndpoint("127.0.0.1", 0, multiproc_dir=tmp_path)
    body, _ = endpoint.render("text/plain")
    assert "agent_worker_jobs_received_total 1.0" in body.decode()
    assert (tmp_path / f"counter_{os.getpid()}.db").exists()  # read again once it is sized
