"""RoomObserver: the span tree under the job's root, its attributes, and the metrics."""

from __future__ import annotations

import pytest
from livekit import rtc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from devtools.harness.fakes import fake_participant, fake_publication
from telemetry.metrics import WorkerMetrics
from telemetry.room import RoomObserver

from .conftest import sample


@pytest.fixture
def observer(provider: TracerProvider, metrics: WorkerMetrics) -> RoomObserver:
    tracer = provider.get_tracer("test")
    root = tracer.start_span("job_entrypoint", attributes={"lk.room_sid": "RM_1"})
    return RoomObserver(root, tracer, metrics)


def test_participant_span_with_track_events(
    observer: RoomObserver,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    alice = fake_participant()
    mic = fake_publication()
    observer.participant_connected(alice)
    observer.track_published(mic, alice)
    observer.track_unpublished(mic, alice)
    assert observer.participant_disconnected(alice) == "client_initiated"
    observer.root.end()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"participant", "job_entrypoint"}
    span = spans["participant"]
    assert span.parent is not None
    assert span.parent.span_id == spans["job_entrypoint"].context.span_id
    assert span.context.trace_id == spans["job_entrypoint"].context.trace_id
    assert dict(span.attributes or {}) == {
        "lk.participant_id": "PA_1",
        "lk.pii.participant_identity": "alice",
        "lk.participant_kind": "PARTICIPANT_KIND_STANDARD",
        "lk.pii.participant_name": "Alice",
        "lk.disconnect_reason": "client_initiated",
    }
    track = {
        "lk.track_sid": "TR_1",
        "lk.track_source": "microphone",
        "lk.track_kind": "audio",
        "lk.track_mime_type": "audio/opus",
    }
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("track_published", track),
        ("track_unpublished", track),
    ]
    assert sample(registry, "agent_worker_participants_joined_total", kind="standard") == 1
    assert sample(registry, "agent_worker_active_participants", kind="standard") == 0
    assert (
        sample(
            registry,
            "agent_worker_participants_left_total",
            kind="standard",
            reason="client_initiated",
        )
        == 1
    )
    labels = {"source": "microphone", "kind": "audio"}
    assert sample(registry, "agent_worker_tracks_published_total", **labels) == 1
    assert sample(registry, "agent_worker_tracks_unpublished_total", **labels) == 1


def test_room_disconnected_event_closes_open_participants(
    observer: RoomObserver,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    observer.participant_connected(fake_participant("PA_1", "a"))
    observer.participant_connected(
        fake_participant("PA_2", "b", kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
    )
    assert observer.room_disconnected(rtc.DisconnectReason.ROOM_DELETED) == "room_deleted"
    observer.root.end()

    participants = [s for s in exporter.get_finished_spans() if s.name == "participant"]
    assert sorted((s.attributes or {})["lk.disconnect_reason"] for s in participants) == [
        "room_deleted",
        "room_deleted",
    ]
    root = next(s for s in exporter.get_finished_spans() if s.name == "job_entrypoint")
    assert [(e.name, dict(e.attributes or {})) for e in root.events] == [
        ("room_disconnected", {"lk.disconnect_reason": "room_deleted"})
    ]
    assert sample(registry, "agent_worker_room_disconnections_total", reason="room_deleted") == 1
    assert sample(registry, "agent_worker_active_participants", kind="sip") == 0


def test_a_participant_seen_twice_gets_one_span(
    observer: RoomObserver, exporter: InMemorySpanExporter
) -> None:
    alice = fake_participant()
    observer.participant_connected(alice)
    observer.participant_connected(alice)
    observer.close()
    assert len([s for s in exporter.get_finished_spans() if s.name == "participant"]) == 1


def test_handler_failure_marks_the_job_span_as_error(
    observer: RoomObserver,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    observer.handler_failed("track_published", RuntimeError("decoder exploded"))
    observer.root.end()
    (root,) = exporter.get_finished_spans()
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "track_published: RuntimeError"
    (event,) = root.events
    assert event.name == "exception"
    attributes = dict(event.attributes or {})
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "decoder exploded"
    assert attributes["lk.error.handler"] == "track_published"
    assert sample(registry, "agent_worker_jobs_failed_total", reason="handler_error") == 1


def test_context_of_makes_the_participant_span_current(observer: RoomObserver) -> None:
    from opentelemetry import trace

    alice = fake_participant()
    observer.participant_connected(alice)
    with observer.context_of(alice) as span:
        assert trace.get_current_span() is span
        assert span is not observer.root
    with observer.context_of(fake_participant("PA_unknown")) as span:
        assert span is observer.root
