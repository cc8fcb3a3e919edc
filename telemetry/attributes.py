"""Span attribute keys and span/event names of the project.

The SDK's keys (``livekit.agents.telemetry.trace_types``) are re-exported where one exists,
so a backend query written for the SDK's spans finds ours too. New keys follow the same
``lk.`` style, and any key that can hold user-supplied data carries a ``pii`` segment: the
SDK's PII filter drops those before any exporter when personal data is not allowed.
"""

from __future__ import annotations

from typing import Final

from livekit.agents.telemetry import trace_types as _sdk

__all__ = [
    "ATTR_DISCONNECT_REASON",
    "ATTR_DISPATCH_PARENT",
    "ATTR_ERROR_HANDLER",
    "ATTR_JOB_ID",
    "ATTR_PARTICIPANT_ID",
    "ATTR_PARTICIPANT_IDENTITY",
    "ATTR_PARTICIPANT_KIND",
    "ATTR_PARTICIPANT_NAME",
    "ATTR_ROOM_NAME",
    "ATTR_ROOM_SID",
    "ATTR_TRACK_KIND",
    "ATTR_TRACK_MIME_TYPE",
    "ATTR_TRACK_SID",
    "ATTR_TRACK_SOURCE",
    "EVENT_ROOM_DISCONNECTED",
    "EVENT_TRACK_PUBLISHED",
    "EVENT_TRACK_UNPUBLISHED",
    "PII_KEYS",
    "SPAN_PARTICIPANT",
    "USER_DATA_KEYS",
]

# the SDK's keys
ATTR_JOB_ID: Final = _sdk.ATTR_JOB_ID
ATTR_ROOM_SID: Final = _sdk.ATTR_ROOM_SID
ATTR_ROOM_NAME: Final = _sdk.ATTR_ROOM_NAME
ATTR_PARTICIPANT_ID: Final = _sdk.ATTR_PARTICIPANT_ID
ATTR_PARTICIPANT_IDENTITY: Final = _sdk.ATTR_PARTICIPANT_IDENTITY
ATTR_PARTICIPANT_KIND: Final = _sdk.ATTR_PARTICIPANT_KIND
ATTR_TRACK_SID: Final = _sdk.ATTR_TRACK_SID
ATTR_TRACK_SOURCE: Final = _sdk.ATTR_TRACK_SOURCE
ATTR_DISCONNECT_REASON: Final = _sdk.ATTR_DISCONNECT_REASON

# the project's keys, in the SDK's style
ATTR_PARTICIPANT_NAME: Final = "lk.pii.participant_name"
ATTR_TRACK_KIND: Final = "lk.track_kind"
ATTR_TRACK_MIME_TYPE: Final = "lk.track_mime_type"
ATTR_ERROR_HANDLER: Final = "lk.error.handler"
ATTR_DISPATCH_PARENT: Final = "lk.dispatch.traceparent"

# span and event names: fixed strings, never built from data
SPAN_PARTICIPANT: Final = "participant"
EVENT_TRACK_PUBLISHED: Final = "track_published"
EVENT_TRACK_UNPUBLISHED: Final = "track_unpublished"
EVENT_ROOM_DISCONNECTED: Final = "room_disconnected"

USER_DATA_KEYS: Final = frozenset(
    {ATTR_ROOM_NAME, ATTR_PARTICIPANT_IDENTITY, ATTR_PARTICIPANT_NAME}
)
"""Keys whose values a user chooses (room names, identities, display names)."""

PII_KEYS: Final = frozenset(key for key in USER_DATA_KEYS if "pii" in key.split("."))
