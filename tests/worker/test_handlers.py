"""Room handlers: a line per event with the room's context, spans under the right parent."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from livekit import rtc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from devtools.harness.fakes import FakeRoom, fake_participant, fake_publication
from telemetry.logcontext import TraceContextFilter
from telemetry.metrics import WorkerMetrics
from telemetry.room import RoomObserver
from tests.telemetry.conftest import sample
from worker.handlers import RoomHandlers


@pytest.fixture
def setup(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[tuple[FakeRoom, RoomHandlers, InMemorySpanExporter, CollectorRegistry, list[str]]]:
    caplog.set_level(logging.INFO, logger="worker.handlers")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    root = tracer.start_span("job_entrypoint")
    context_filter = TraceContextFilter(fallback=root)
    caplog.handler.addFilter(context_filter)
    registry = CollectorRegistry()
    observer = RoomObserver(root, tracer, WorkerMetrics(registry))
    room = FakeRoom()
    cleaned: list[str] = []
    handlers = RoomHandlers(
        room,  # type: ignore[arg-type]
        observer,
        allow_pii=True,
        on_disconnected=lambda: cleaned.append("done"),
    )
    handlers.register()
    yield room, handlers, exporter, registry, cleaned
    # pytest's capture handler outlives the test; the filter must not
    caplog.handler.removeFilter(context_filter)


def test_a_participant_session_is_logged_and_traced(
    setup: tuple[FakeRoom, RoomHandlers, InMemorySpanExporter, CollectorRegistry, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, _, exporter, _, cleaned = setup
    alice, mic = fake_participant(), fake_publication()
    room.emit("participant_connected", alice)
    room.emit("track_published", mic, alice)
    room.emit("track_unpublished", mic, alice)
    room.emit("participant_disconnected", alice)
    room.emit("disconnected", rtc.DisconnectReason.ROOM_DELETED)

    assert [r.getMessage() for r in caplog.records] == [
        "Participant connected: alice (kind: standard)",
        "Track published: TR_1 (source: microphone, kind: audio) by alice",
        "Track unpublished: TR_1 (source: microphone, kind: audio) by alice",
        "Participant disconnected: alice (reason: client_initiated)",
        "Room disconnected (reason: room_deleted), cleaning up",
    ]
    assert cleaned == ["done"]
    (span,) = exporter.get_finished_spans()
    span_id = f"{span.context.span_id:016x}"
    # the participant's lines carry its span's ids, the room's lines the job's
    assert [r.span_id for r in caplog.records[:4]] == [span_id] * 4  # type: ignore[attr-defined]
    assert caplog.records[4].span_id != span_id  # type: ignore[attr-defined]


def test_identities_stay_out_of_lines_without_pii(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="worker.handlers")
    tracer = TracerProvider().get_tracer("t")
    observer = RoomObserver(tracer.start_span("root"), tracer, WorkerMetrics(CollectorRegistry()))
    room = FakeRoom()
    RoomHandlers(room, observer, allow_pii=False, on_disconnected=lambda: None).register()  # type: ignore[arg-type]
    alice = fake_participant(identity="alice@example.com")
    room.emit("participant_connected", alice)
    room.emit("track_published", fake_publication(), alice)
    room.emit("participant_disconnected", alice)
    text = caplog.text
    assert "alice@example.com" not in text
    assert "PA_1" in text


def test_a_raising_handler_is_recorded_and_the_room_goes_on(
    setup: tuple[FakeRoom, RoomHandlers, InMemorySpanExporter, CollectorRegistry, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, _, exporter, registry, _ = setup
    broken = fake_participant()
    del broken.kind  # reading it raises inside participant_connected
    room.emit("participant_connected", broken)
    room.emit("participant_connected", fake_participant("PA_2", "bob"))
    assert "Room handler for participant_connected failed" in caplog.text
    assert "Participant connected: bob (kind: standard)" in caplog.text
    assert sample(registry, "agent_worker_jobs_failed_total", reason="handler_error") == 1
    room.emit("disconnected", rtc.DisconnectReason.CLIENT_INITIATED)
    observer_root = [s for s in exporter.get_finished_spans() if s.name == "participant"]
    assert len(observer_root) == 1


def test_close_records_a_pending_disconnection_and_removes_every_handler(
    setup: tuple[FakeRoom, RoomHandlers, InMemorySpanExporter, CollectorRegistry, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, handlers, _, registry, cleaned = setup
    handlers.close()
    assert all(not registered for registered in room.handlers.values())
    assert "Room disconnected (reason: client_initiated), cleaning up" in caplog.text
    assert cleaned == ["done"]
    reason = {"reason": "client_initiated"}
    assert sample(registry, "agent_worker_room_disconnections_total", **reason) == 1
    room.emit("disconnected", rtc.DisconnectReason.CLIENT_INITIATED)  # late event: ignored
    handlers.close()
    assert sample(registry, "agent_worker_room_disconnections_total", **reason) == 1


def test_participants_already_in_the_room_are_accounted_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="worker.handlers")
    tracer = TracerProvider().get_tracer("t")
    registry = CollectorRegistry()
    observer = RoomObserver(tracer.start_span("root"), tracer, WorkerMetrics(registry))
    room = FakeRoom()
    early = fake_participant("PA_9", "early")
    early.track_publications = {"TR_9": fake_publication("TR_9")}
    room.remote_participants = {"early": early}
    RoomHandlers(room, observer, allow_pii=True, on_disconnected=lambda: None).register()  # type: ignore[arg-type]
    assert "Participant connected: early (kind: standard)" in caplog.text
    assert "Track published: TR_9" in caplog.text
    assert sample(registry, "agent_worker_active_participants", kind="standard") == 1


def test_job_span_is_error_after_a_handler_failure(
    setup: tuple[FakeRoom, RoomHandlers, InMemorySpanExporter, CollectorRegistry, list[str]],
) -> None:
    room, handlers, exporter, _, _ = setup
    broken = fake_publication()
    del broken.source
    room.emit("track_published", broken, fake_participant())
    handlers._observer.root.end()
    root = next(s for s in exporter.get_finished_spans() if s.name == "job_entrypoint")
    assert root.status.status_code is StatusCode.ERROR
    assert root.events[0].name == "exception"
