"""Room event handlers of a job: a log line and a telemetry record per event.

No business logic lives here; the agent logic of later epics subscribes to the same room.
Each handler's line carries the trace and span ids of the participant it concerns (passed
with the record, which costs less than making the span current for one line), and a handler
that raises is recorded on the job's trace and counted instead of breaking the room's event
dispatch.

With personal data disallowed (``ALLOW_PII=false``), lines name participants by sid, never
by identity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.rtc.room import EventTypes

from telemetry import labels
from telemetry.room import RoomObserver

from .log_messages import HANDLER_FAILED, PARTICIPANT_CONNECTED, PARTICIPANT_DISCONNECTED

__all__ = ["RoomHandlers", "participant_label"]

logger = logging.getLogger(__name__)


def participant_label(participant: rtc.Participant, allow_pii: bool) -> str:
    """The participant's identity, or its sid when personal data is not allowed."""
    return participant.identity if allow_pii else participant.sid


class RoomHandlers:
    """Registers the job's room event handlers and removes them again.

    Args:
        room: the job's room.
        observer: records spans and metrics for the room.
        allow_pii: whether log lines may name participants by identity.
        on_disconnected: releases what the job opened once the room is gone.
    """

    def __init__(
        self,
        room: rtc.Room,
        observer: RoomObserver,
        *,
        allow_pii: bool,
        on_disconnected: Callable[[], None],
    ) -> None:
        self._room = room
        self._observer = observer
        self._allow_pii = allow_pii
        self._on_disconnected = on_disconnected
        self._registered: dict[EventTypes, Callable[..., None]] = {}
        self._disconnected = False

    def register(self) -> None:
        """Subscribe to the room's events, and account for participants already there."""
        events: tuple[tuple[EventTypes, Callable[..., None]], ...] = (
            ("participant_connected", self.participant_connected),
            ("participant_disconnected", self.participant_disconnected),
            ("track_published", self.track_published),
            ("track_unpublished", self.track_unpublished),
            ("disconnected", self.disconnected),
        )
        for event, handler in events:
            guarded = self._guard(event, handler)
            self._room.on(event, guarded)
            self._registered[event] = guarded
        for participant in list(self._room.remote_participants.values()):
            self._registered["participant_connected"](participant)
            for publication in list(participant.track_publications.values()):
                self._registered["track_published"](publication, participant)

    def close(self) -> None:
        """Finish the room's record and unsubscribe from its events.

        When the job ends first, the SDK disconnects the room and the ``disconnected`` event
        may still be queued behind the shutdown; the disconnection is then recorded here,
        as the client-initiated one it is.
        """
        handler = self._registered.get("disconnected")
        if handler is not None and not self._disconnected:
            handler(rtc.DisconnectReason.CLIENT_INITIATED)
        for event, registered in self._registered.items():
            self._room.off(event, registered)
        self._registered.clear()

    def participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        """A remote participant joined."""
        self._observer.participant_connected(participant)
        logger.info(
            "%s: %s (kind: %s)",
            PARTICIPANT_CONNECTED,
            participant_label(participant, self._allow_pii),
            labels.participant_kind(participant.kind),
            extra=self._observer.log_ids(participant),
        )

    def participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        """A remote participant left."""
        logger.info(
            "%s: %s (reason: %s)",
            PARTICIPANT_DISCONNECTED,
            participant_label(participant, self._allow_pii),
            labels.disconnect_reason(participant.disconnect_reason),
            extra=self._observer.log_ids(participant),
        )
        self._observer.participant_disconnected(participant)

    def track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        """A remote participant published a track."""
        self._observer.track_published(publication, participant)
        self._log_track("Track published", publication, participant)

    def track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        """A remote participant unpublished a track."""
        self._observer.track_unpublished(publication, participant)
        self._log_track("Track unpublished", publication, participant)

    def disconnected(self, reason: int) -> None:
        """The job's room connection ended."""
        if self._disconnected:
            return
        self._disconnected = True
        with self._observer.context_of():
            label = self._observer.room_disconnected(reason)
            logger.info("Room disconnected (reason: %s), cleaning up", label)
            self._on_disconnected()

    def _log_track(
        self, what: str, publication: rtc.RemoteTrackPublication, participant: rtc.Participant
    ) -> None:
        logger.info(
            "%s: %s (source: %s, kind: %s) by %s",
            what,
            publication.sid,
            labels.track_source(publication.source),
            labels.track_kind(publication.kind),
            participant_label(participant, self._allow_pii),
            extra=self._observer.log_ids(participant),
        )

    def _guard(self, event: str, handler: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            try:
                handler(*args)
            except Exception as error:
                with self._observer.context_of():
                    logger.exception(HANDLER_FAILED, event)
                    self._observer.handler_failed(event, error)

        guarded.__name__ = f"on_{event}"
        return guarded
