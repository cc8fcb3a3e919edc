"""Provider failures sorted into the closed set of kinds a metric label may carry."""

from __future__ import annotations

import pytest
from livekit.agents import APIConnectionError, APIError, APIStatusError, APITimeoutError

from telemetry.catalogue import VOICE_ERROR_KINDS
from telemetry.voice_errors import error_kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (APIStatusError("refused", status_code=401), "auth"),
        (APIStatusError("forbidden", status_code=403), "auth"),
        (APIStatusError("slow down", status_code=429), "rate_limit"),
        (APIStatusError("bad request", status_code=400), "client_error"),
        (APIStatusError("gone", status_code=404), "client_error"),
        (APIStatusError("boom", status_code=500), "server_error"),
        (APIStatusError("unavailable", status_code=503), "server_error"),
        # Deepgram's "connection closed unexpectedly" carries the websocket close code
        (APIStatusError("closed unexpectedly", status_code=1011), "dropped"),
        (APIStatusError("closed unexpectedly", status_code=-1), "dropped"),
        (APIStatusError("odd", status_code=302), "other"),
        (APITimeoutError(), "timeout"),
        (APIConnectionError(), "connection"),
        (APIError("Cartesia returned error: {}"), "other"),
        (RuntimeError("anything else"), "other"),
    ],
)
def test_error_kind(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind
    assert kind in VOICE_ERROR_KINDS
