"""One trace per room through a real Collector, and metrics aggregated across job processes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess, run_promtool, wait_until
from devtools.synthetic import ServerAccess, SyntheticParticipant
from telemetry.multiproc import AGGREGATE, pid_alive
from worker.log_messages import JOB_SHUTTING_DOWN

from .conftest import AGENT_NAME, room_name, session

DISPATCH_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{DISPATCH_TRACE}-00f067aa0ba902b7-01"


def _worker(livekit: LiveKitServer, tmp_path: Path, **env: str) -> WorkerProcess:
    return WorkerProcess.serving(
        livekit,
        tmp_path,
        env={"AGENT_NAME": AGENT_NAME, "WORKER_NUM_IDLE_PROCESSES": "2", **env},
    )


def _samples(
    text: str, *, openmetrics: bool = False
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    parse = openmetrics_families if openmetrics else text_string_to_metric_families
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse(text)
        for s in family.samples
    }


def _gauge_counts_children(worker: WorkerProcess) -> bool:
    """Whether the SDK's child-process gauge, as scraped, is the count psutil sees."""
    assert worker.process is not None
    gauge = sum(
        value
        for (name, _), value in _samples(worker.scrape()).items()
        if name == "lk_agents_child_processes"  # the SDK's gauge, renamed for promtool
    )
    count = len(psutil.Process(worker.process.pid).children(recursive=True))
    return gauge == count > 3  # the forkserver, its resource tracker, 3 idle processes


def _by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
    return traces


def test_one_trace_per_room_through_a_real_collector(
    livekit: LiveKitServer,
    access: ServerAccess,
    collector: OtelCollector,
    tmp_path: Path,
) -> None:
    traced_room, plain_room = room_name("traced"), room_name("plain")
    worker = _worker(
        livekit,
        tmp_path,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.otlp_http_endpoint,
    )
    with worker:

        async def two_rooms() -> None:
            await session(
                access,
                traced_room,
                [
                    SyntheticParticipant(access, traced_room, "alice", name="Alice", tracks=2),
                    SyntheticParticipant(access, traced_room, "bob", name="Bob", tracks=1),
                ],
                metadata=f'{{"traceparent": "{TRACEPARENT}"}}',
            )
            await session(access, plain_room, [SyntheticParticipant(access, plain_room, "carol")])

        asyncio.run(two_rooms())
        worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30, count=2)
        roots = collector.wait_for_spans(2, name="job_entrypoint", timeout=30)
        metrics_text = worker.scrape("application/openmetrics-text; version=1.0.0")

    traces = _by_trace(collector.read_spans())
    rooms = {root["attributes"]["lk.pii.room_name"]: root["trace_id"] for root in roots}
    assert rooms[traced_room] == DISPATCH_TRACE  # continues the dispatcher's trace
    assert rooms[plain_room] != DISPATCH_TRACE
    spans = traces[DISPATCH_TRACE]
    (root,) = [s for s in spans if s["name"] == "job_entrypoint"]
    assert root["attributes"]["lk.room_sid"].startswith("RM_")
    assert root["attributes"]["lk.job_id"].startswith("AJ_")
    assert root["attributes"]["lk.agent_name"] == AGENT_NAME
    assert root["resource"]["service.name"] == "livekit-agent-worker"
    assert root["resource"]["service.version"]
    assert root["resource"]["deployment.environment.name"] == "development"
    assert {"job_received", "entrypoint_started"} <= {e["name"] for e in root["events"]}
    assert "room_disconnected" in {e["name"] for e in root["events"]}
    assert root["status_code"] != "ERROR"

    children = {s["name"] for s in spans if s["parent_span_id"] == root["span_id"]}
    assert {"room_connect", "participant", "job_shutdown"} <= children
    participants = {
        s["attributes"]["lk.pii.participant_identity"]: s
        for s in spans
        if s["name"] == "participant"
    }
    assert set(participants) == {"alice", "bob"}
    for identity, tracks in (("alice", 2), ("bob", 1)):
        span = participants[identity]
        assert span["parent_span_id"] == root["span_id"]
        assert span["attributes"]["lk.participant_id"].startswith("PA_")
        assert span["attributes"]["lk.participant_kind"] == "PARTICIPANT_KIND_STANDARD"
        assert span["attributes"]["lk.disconnect_reason"] == "client_initiated"
        events = [e for e in span["events"] if e["name"].startswith("track_")]
        assert [e["name"] for e in events].count("track_published") == tracks
        assert [e["name"] for e in events].count("track_unpublished") == tracks
        for event in events:
            attributes = event["attributes"]
            assert attributes["lk.track_source"] == "microphone"
            assert attributes["lk.track_kind"] == "audio"
            assert attributes["lk.track_sid"].startswith("TR_")
            assert attributes["lk.track_mime_type"].startswith("audio/")

    values = _samples(metrics_text, openmetrics=True)
    assert values[("agent_worker_jobs_received_total", ())] == 2
    assert values[("agent_worker_participants_joined_total", (("kind", "standard"),))] == 3
    published = (("kind", "audio"), ("source", "microphone"))
    assert values[("agent_worker_tracks_published_total", published)] == 4
    assert values[("agent_worker_tracks_unpublished_total", published)] == 4
    assert values[("agent_worker_dispatch_latency_seconds_count", ())] == 2
    assert values[("agent_worker_job_duration_seconds_count", ())] == 2
    assert values[("agent_worker_room_connect_duration_seconds_count", ())] == 2
    assert values[("agent_worker_active_participants", (("kind", "standard"),))] == 0
    # exemplars lead from the latency histogram to the room's trace
    exemplars = re.findall(
        r'dispatch_latency_seconds_bucket\{[^}]*\} \S+ # \{trace_id="(\w+)"\}', metrics_text
    )
    # (each bucket keeps its latest exemplar: one of the two rooms' traces)
    assert exemplars
    assert set(exemplars) <= set(rooms.values())


@pytest.mark.timeout(420)
def test_series_do_not_grow_with_rooms(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    worker = _worker(livekit, tmp_path, WORKER_NUM_IDLE_PROCESSES="3")

    async def rooms(count: int, start: int) -> None:
        for batch in range(start, start + count, 5):
            await asyncio.gather(
                *(
                    session(
                        access,
                        f"card-{index}",
                        [SyntheticParticipant(access, f"card-{index}", f"user-{index}")],
                        publish_seconds=0.3,
                    )
                    for index in range(batch, min(batch + 5, start + count))
                )
            )

    def series() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return set(_samples(worker.scrape()))

    with worker:
        asyncio.run(rooms(10, 0))
        wait_until(lambda: worker.output().count(JOB_SHUTTING_DOWN) >= 10, 60, what="10 jobs")
        after_10 = series()
        asyncio.run(rooms(40, 10))
        wait_until(lambda: worker.output().count(JOB_SHUTTING_DOWN) >= 50, 120, what="50 jobs")
        wait_until(lambda: "agent_worker_jobs_received_total 50.0" in worker.scrape(), 30)
        after_50 = series()
        text = worker.scrape()  # compacts first
        files = sorted(path.name for path in worker.metrics_dir.glob("*.db"))
        owners = {int(m[1]) for name in files if (m := re.search(r"_(\d+)\.db$", name))}
        owners_alive = {pid for pid in owners if pid_alive(pid)}
        # the SDK's child-process gauge, counted by the project (telemetry.children); the
        # SDK updates it every 0.5 s, so it matches once the pool is steady
        wait_until(
            lambda: _gauge_counts_children(worker), 15, what="child-process gauge = psutil's"
        )
    assert after_50 == after_10, sorted(after_50 ^ after_10)
    for _, labels in after_50:
        for _, value in labels:
            assert "card-" not in value
            assert "user-" not in value
            assert not value.startswith("RM_")
    check = run_promtool("check", "metrics", stdin=text, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "", check.stdout
    # dead job processes are folded into aggregates: the directory holds one aggregate per
    # file kind plus the files of the processes alive, never a file of a finished job
    assert owners_alive == owners, files
    aggregates = [name for name in files if AGGREGATE in name]
    assert len(aggregates) == len(set(aggregates)) <= 6, files
    assert len(owners) <= 6, files  # main, forkserver, 3 idle processes, at most one ending
