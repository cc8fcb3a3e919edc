"""Stand-ins for the ``livekit.rtc`` objects the room handlers read, for unit tests and the
handler micro-benchmark: no server, no native SDK room."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from livekit import rtc

__all__ = ["FakeRoom", "fake_participant", "fake_publication"]


class FakeRoom:
    """The part of ``rtc.Room`` the handlers use: ``on``/``off``, participants, and ``emit``
    to fire an event as the SDK would."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[..., None]]] = {}
        self.remote_participants: dict[str, Any] = {}

    def on(self, event: str, handler: Callable[..., None]) -> None:
        """Registers ``handler`` for ``event``."""
        self.handlers.setdefault(event, []).append(handler)

    def off(self, event: str, handler: Callable[..., None]) -> None:
        """Unregisters ``handler``."""
        # A new list: an ``emit`` under way (the handler may unregister itself) keeps
        # iterating the old one, and ``emit`` needs no copy (the micro-benchmark times it).
        # Equality, not identity, as the SDK's emitter: a bound method is a new object at
        # each access.
        self.handlers[event] = [h for h in self.handlers[event] if h != handler]

    def emit(self, event: str, *args: Any) -> None:
        """Calls every handler of ``event``; a handler may unregister itself meanwhile."""
        for handler in self.handlers.get(event, ()):
            handler(*args)


def fake_participant(
    sid: str = "PA_1",
    identity: str = "alice",
    *,
    name: str = "Alice",
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    reason: int = rtc.DisconnectReason.CLIENT_INITIATED,
) -> Any:
    """A stand-in for ``rtc.RemoteParticipant`` with the attributes the code reads."""
    return SimpleNamespace(
        sid=sid,
        identity=identity,
        name=name,
        kind=kind,
        disconnect_reason=reason,
        track_publications={},
    )


def fake_publication(
    sid: str = "TR_1",
    source: int = rtc.TrackSource.SOURCE_MICROPHONE,
    kind: int = rtc.TrackKind.KIND_AUDIO,
    mime_type: str = "audio/opus",
) -> Any:
    """A stand-in for ``rtc.RemoteTrackPublication``."""
    return SimpleNamespace(sid=sid, source=source, kind=kind, mime_type=mime_type)
