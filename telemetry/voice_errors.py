"""What kind of failure a provider error is: a closed set of values for a metric label.

The plugins raise the SDK's ``APIError`` family (``livekit.agents._exceptions``): a status
error carries the HTTP status, or the websocket close code when a stream was cut; a timeout
is a connection error of its own. Anything else is ``other``.
"""

from __future__ import annotations

from livekit.agents import APIConnectionError, APIStatusError, APITimeoutError

from .catalogue import VOICE_ERROR_KINDS

__all__ = ["error_kind"]

_AUTH_STATUSES = frozenset({401, 403})
_RATE_LIMIT_STATUSES = frozenset({429})
# websocket close codes a cut stream reports instead of an HTTP status (-1: none given)
_DROPPED_CODES = frozenset({-1, 1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014})


def _status_kind(status: int) -> str:
    if status in _AUTH_STATUSES:
        return "auth"
    if status in _RATE_LIMIT_STATUSES:
        return "rate_limit"
    if 400 <= status < 500:
        return "client_error"
    if 500 <= status < 600:
        return "server_error"
    return "dropped" if status in _DROPPED_CODES else "other"


def error_kind(error: BaseException) -> str:
    """The kind of a provider failure, one of ``VOICE_ERROR_KINDS``.

    Args:
        error: the exception a plugin raised (``LLMError.error`` and the like).

    Returns:
        ``auth``, ``rate_limit``, ``client_error``, ``server_error``, ``timeout``,
        ``connection``, ``dropped`` or ``other``.
    """
    if isinstance(error, APIStatusError):
        kind = _status_kind(error.status_code)
    elif isinstance(error, APITimeoutError):
        kind = "timeout"
    elif isinstance(error, APIConnectionError):
        kind = "connection"
    else:
        kind = "other"
    assert kind in VOICE_ERROR_KINDS
    return kind
