"""Bounded label values for metrics, and readable names for the SDK's protobuf enums.

Every value a metric label can take comes from a closed set here, so the number of series
cannot grow with rooms, participants or anything a client sends.
"""

from __future__ import annotations

from livekit import rtc

__all__ = [
    "PARTICIPANT_KINDS",
    "disconnect_reason",
    "participant_kind",
    "track_kind",
    "track_source",
]

_SOURCES: dict[int, str] = {
    rtc.TrackSource.SOURCE_MICROPHONE: "microphone",
    rtc.TrackSource.SOURCE_CAMERA: "camera",
    rtc.TrackSource.SOURCE_SCREENSHARE: "screen_share",
    rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO: "screen_share_audio",
}
_TRACK_KINDS: dict[int, str] = {
    rtc.TrackKind.KIND_AUDIO: "audio",
    rtc.TrackKind.KIND_VIDEO: "video",
}
_PARTICIPANT_KINDS: dict[int, str] = {
    value: name.removeprefix("PARTICIPANT_KIND_").lower()
    for name, value in rtc.ParticipantKind.items()
}
_DISCONNECT_REASONS: dict[int, str] = {
    value: name.lower() for name, value in rtc.DisconnectReason.items()
}

PARTICIPANT_KINDS = frozenset(_PARTICIPANT_KINDS.values()) | {"unknown"}


def track_source(value: int) -> str:
    """``microphone``, ``camera``, ``screen_share``, ``screen_share_audio`` or ``unknown``."""
    return _SOURCES.get(value, "unknown")


def track_kind(value: int) -> str:
    """``audio``, ``video`` or ``unknown``."""
    return _TRACK_KINDS.get(value, "unknown")


def participant_kind(value: int) -> str:
    """``standard``, ``sip``, ``agent``, … or ``unknown``."""
    return _PARTICIPANT_KINDS.get(value, "unknown")


def disconnect_reason(value: int | None) -> str:
    """The lower-case ``DisconnectReason`` name, ``unknown_reason`` for anything else."""
    return _DISCONNECT_REASONS.get(value or 0, "unknown_reason")
