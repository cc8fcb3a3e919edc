"""Spans and metrics for one job's room, under the SDK's ``job_entrypoint`` root span.

The SDK already traces the job (``job_entrypoint``), the room connection (``room_connect``)
and the shutdown (``job_shutdown``, ``room_disconnect``). This adds what happens in the room
while the job runs:

    job_entrypoint (SDK root)
    ├── room_connect (SDK)
    ├── participant   one per remote participant, connect → disconnect
    │     events: track_published, track_unpublished
    ├── job_shutdown (SDK)
    └── events: room_disconnected

Room event callbacks run outside the entrypoint's context, so each span names its parent
explicitly, and :meth:`RoomObserver.context_of` gives the handlers the span to log under.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from livekit import rtc
from livekit.agents.telemetry.utils import participant_attributes
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from . import attributes as attr
from . import labels
from .metrics import WorkerMetrics

__all__ = ["RoomObserver"]


def _track_attributes(publication: rtc.TrackPublication) -> dict[str, str]:
    return {
        attr.ATTR_TRACK_SID: publication.sid,
        attr.ATTR_TRACK_SOURCE: labels.track_source(publication.source),
        attr.ATTR_TRACK_KIND: labels.track_kind(publication.kind),
        attr.ATTR_TRACK_MIME_TYPE: publication.mime_type,
    }


def _track_labels(publication: rtc.TrackPublication) -> tuple[str, str]:
    return labels.track_source(publication.source), labels.track_kind(publication.kind)


class RoomObserver:
    """Records one job's room events as spans, span events and metrics.

    Args:
        root: the job's root span (the SDK's ``job_entrypoint``).
        tracer: creates the participant spans.
        metrics: the process's metrics.
    """

    def __init__(self, root: trace.Span, tracer: trace.Tracer, metrics: WorkerMetrics) -> None:
        self.root = root
        self._root_context = trace.set_span_in_context(root)
        self._tracer = tracer
        self._metrics = metrics
        self._participants: dict[str, tuple[trace.Span, str]] = {}

    @contextmanager
    def context_of(self, participant: rtc.Participant | None = None) -> Iterator[trace.Span]:
        """Make the participant's span (or the root) current, e.g. so logs carry its ids."""
        entry = self._participants.get(participant.sid) if participant is not None else None
        span = entry[0] if entry is not None else self.root
        with trace.use_span(span, end_on_exit=False):
            yield span

    def log_ids(self, participant: rtc.Participant | None = None) -> dict[str, str]:
        """The ``trace_id`` and ``span_id`` of the participant's span (or the root), for a log
        call's ``extra``: the ids a line logged inside :meth:`context_of` gets, without making
        the span current (which costs a context switch and back per line)."""
        entry = self._participants.get(participant.sid) if participant is not None else None
        context = (entry[0] if entry is not None else self.root).get_span_context()
        if not context.is_valid:
            return {}
        return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}

    def room_connected(self, seconds: float) -> None:
        """Record how long the job took to connect to its room."""
        self._metrics.room_connected(seconds)

    def participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        """Open the participant's span and count it."""
        if participant.sid in self._participants:
            return  # already seen through the room's initial participant list
        kind = labels.participant_kind(participant.kind)
        span_attributes = participant_attributes(participant)
        span_attributes[attr.ATTR_PARTICIPANT_NAME] = participant.name
        span = self._tracer.start_span(
            attr.SPAN_PARTICIPANT, context=self._root_context, attributes=span_attributes
        )
        self._participants[participant.sid] = (span, kind)
        self._metrics.participant_joined(kind)

    def participant_disconnected(self, participant: rtc.RemoteParticipant) -> str:
        """Close the participant's span with its disconnect reason.

        Returns:
            The disconnect reason's label value.
        """
        reason = labels.disconnect_reason(participant.disconnect_reason)
        self._close_participant(participant.sid, reason)
        return reason

    def track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        """Add a ``track_published`` event to the participant's span and count it."""
        self._track_event(attr.EVENT_TRACK_PUBLISHED, publication, participant)
        self._metrics.track_published(*_track_labels(publication))

    def track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        """Add a ``track_unpublished`` event to the participant's span and count it."""
        self._track_event(attr.EVENT_TRACK_UNPUBLISHED, publication, participant)
        self._metrics.track_unpublished(*_track_labels(publication))

    def room_disconnected(self, reason: int) -> str:
        """Record the room's disconnection on the root span and close open participants.

        Returns:
            The disconnect reason's label value.
        """
        label = labels.disconnect_reason(reason)
        self.root.add_event(attr.EVENT_ROOM_DISCONNECTED, {attr.ATTR_DISCONNECT_REASON: label})
        self._metrics.room_disconnected(label)
        self.close(label)
        return label

    def handler_failed(self, handler: str, error: Exception) -> None:
        """Mark the job's root span as failed with the exception, and count the failure."""
        self.root.record_exception(error, {attr.ATTR_ERROR_HANDLER: handler})
        self.root.set_status(Status(StatusCode.ERROR, f"{handler}: {type(error).__name__}"))
        self._metrics.job_failed("handler_error")

    def close(self, reason: str = "job_ended") -> None:
        """End every participant span still open (the job is ending)."""
        for sid in list(self._participants):
            self._close_participant(sid, reason)

    def _close_participant(self, sid: str, reason: str) -> None:
        entry = self._participants.pop(sid, None)
        if entry is None:
            return
        span, kind = entry
        span.set_attribute(attr.ATTR_DISCONNECT_REASON, reason)
        span.end()
        self._metrics.participant_left(kind, reason)

    def _track_event(
        self, name: str, publication: rtc.TrackPublication, participant: rtc.Participant
    ) -> None:
        entry = self._participants.get(participant.sid)
        span = entry[0] if entry is not None else self.root
        span.add_event(name, _track_attributes(publication), timestamp=time.time_ns())
