"""After a real session scraped by a real Prometheus, every dashboard query returns data.

The worker, livekit-server and the Collector run for real; Prometheus scrapes them with the
shipped recording and alerting rules. Each Prometheus query of each dashboard panel, and
each recording rule, is then evaluated; a failure names the dashboard and the panel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.harness import (
    REPO_ROOT,
    LiveKitServer,
    OtelCollector,
    Prometheus,
    WorkerProcess,
    wait_until,
)
from devtools.observability.livekit_server import LIVEKIT_SERVER_METRICS
from devtools.synthetic import ServerAccess, SyntheticParticipant
from telemetry.catalogue import METRICS
from tests.deploy.promql import iter_panel_queries, iter_recording_rules
from worker.log_messages import JOB_SHUTTING_DOWN

from .conftest import AGENT_NAME, room_name, session

DASHBOARDS = REPO_ROOT / "dashboards"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"
# read only with the voice pipeline on: tests/e2e/test_voice_live.py checks them
VOICE_DASHBOARD = "voice-pipeline.json"
VOICE_RULE_PREFIX = "instance:agent_worker_voice_"


@dataclass(frozen=True)
class _Stack:
    prometheus: Prometheus
    collector: OtelCollector


@pytest.fixture(scope="module")
def scraped_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Stack]:
    work = tmp_path_factory.mktemp("stack")
    with (
        LiveKitServer(work / "livekit") as livekit,
        OtelCollector(work / "collector") as collector,
    ):
        worker = WorkerProcess.serving(
            livekit,
            work / "worker",
            env={
                "AGENT_NAME": AGENT_NAME,
                "WORKER_NUM_IDLE_PROCESSES": "2",
                "OTEL_TRACES_EXPORTER": "otlp",
                # the other protocol than the default, so both reach a real Collector
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_grpc_endpoint,
            },
        )
        with worker:
            targets = [
                ("agent-worker", f"127.0.0.1:{worker.metrics_port}"),
                ("livekit-server", f"127.0.0.1:{livekit.prometheus_port}"),
                ("otel-collector", collector.metrics_target),
            ]
            rules = sorted(RULES.glob("*.yml"))
            with Prometheus(work / "prometheus", targets, rule_files=rules) as prometheus:
                prometheus.wait_for_targets_up(timeout=60)
                access = ServerAccess(livekit.url, livekit.api_key, livekit.api_secret)
                asyncio.run(_traffic(access))
                worker.wait_for_line(JOB_SHUTTING_DOWN, timeout=60, count=3)
                # a few scrapes and rule evaluations after the last job ended
                # rate() needs two samples of a series: wait until the counters that first
                # appeared at the end of the session have been scraped a few times
                wait_until(
                    lambda: prometheus.query(
                        "min(count_over_time(agent_worker_room_disconnections_total[1m])) >= 4"
                    ),
                    60,
                    what="the session's last counters scraped",
                )
                yield _Stack(prometheus, collector)


async def _traffic(access: ServerAccess) -> None:
    rooms = [room_name("dash") for _ in range(3)]
    await asyncio.gather(
        *(
            session(
                access,
                room,
                [
                    SyntheticParticipant(access, room, f"{room}-a", tracks=2),
                    SyntheticParticipant(access, room, f"{room}-b"),
                ],
                publish_seconds=12,
            )
            for room in rooms
        )
    )


def _dashboard_queries() -> list[tuple[str, str, str]]:
    return [
        (query.dashboard, query.panel, query.expr)
        for path in sorted(DASHBOARDS.glob("*.json"))
        if path.name != VOICE_DASHBOARD
        for query in iter_panel_queries(path)
    ]


@pytest.mark.timeout(600)
def test_every_dashboard_query_returns_data(scraped_session: _Stack) -> None:
    queries = _dashboard_queries()
    assert len(queries) > 30
    empty = [
        f"{dashboard} / {panel}: {expr}"
        for dashboard, panel, expr in queries
        if not scraped_session.prometheus.query(expr)
    ]
    assert not empty, "panels without data:\n" + "\n".join(empty)


@pytest.mark.timeout(600)
def test_every_recording_rule_returns_data(scraped_session: _Stack) -> None:
    rules = [r for r in iter_recording_rules() if not r.record.startswith(VOICE_RULE_PREFIX)]
    assert rules
    empty = [
        f"{rule.file} / {rule.record}"
        for rule in rules
        if not scraped_session.prometheus.query(rule.record)
    ]
    assert not empty, "recording rules without data:\n" + "\n".join(empty)


@pytest.mark.timeout(600)
def test_latency_exemplars_lead_to_traces(scraped_session: _Stack) -> None:
    exemplars = scraped_session.prometheus.query_exemplars(
        "agent_worker_dispatch_latency_seconds_bucket"
    )
    trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert trace_ids, "no trace_id exemplars stored"
    assert all(len(t) == 32 for t in trace_ids)
    # the traces themselves reached the Collector (over gRPC here; the other tests use http)
    collector = scraped_session.collector

    def missing() -> set[str]:
        return trace_ids - {span["trace_id"] for span in collector.read_spans()}

    wait_until(lambda: not missing(), 15, what="exemplar traces at the Collector")


def test_no_alert_fires_after_a_healthy_session(scraped_session: _Stack) -> None:
    firing = scraped_session.prometheus.query('ALERTS{alertstate="firing"}')
    assert firing == [], firing


def _scraped_names(stack: _Stack, job: str) -> set[str]:
    result = stack.prometheus.query(f'count by (__name__) ({{job="{job}"}})')
    return {series["metric"]["__name__"] for series in result}


@pytest.mark.timeout(600)
def test_the_worker_exposes_only_catalogue_metrics(scraped_session: _Stack) -> None:
    scraped = {
        name
        for name in _scraped_names(scraped_session, "agent-worker")
        if name.startswith(("agent_worker_", "lk_agents_"))
    }
    declared = set().union(*(m.series_names for m in METRICS))
    assert scraped, "nothing scraped from the worker"
    assert scraped - declared == set(), "exposed but not in telemetry/catalogue.py"


@pytest.mark.timeout(600)
def test_the_livekit_server_metrics_the_dashboard_reads_exist(scraped_session: _Stack) -> None:
    # the real server names them: a livekit-server upgrade that renames one fails here
    scraped = _scraped_names(scraped_session, "livekit-server")
    present = {
        name
        for name, kind in LIVEKIT_SERVER_METRICS.items()
        if (f"{name}_bucket" if kind == "histogram" else name) in scraped
    }
    # loss and RTCP-feedback counters appear only once a packet is lost or retransmission or
    # a keyframe is asked for (their panels read them with `or on() vector(0)`)
    absent_until_used = {
        "livekit_packet_loss_total",
        "livekit_nack_total",
        "livekit_pli_total",
        "livekit_fir_total",
    }
    assert set(LIVEKIT_SERVER_METRICS) - present <= absent_until_used
