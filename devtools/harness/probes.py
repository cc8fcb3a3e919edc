"""HTTP probes of loopback servers, and bounded polling."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

__all__ = ["http_get", "http_ok", "wait_until"]

# Proxy settings from the environment must never route loopback probes elsewhere.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GETs ``url`` without any proxy; an HTTP error status is returned, not raised.

    Returns:
        ``(status, body)``.

    Raises:
        OSError: The connection failed (refused, reset, timed out).
    """
    try:
        with _HTTP.open(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: True once ``url`` answers 200."""

    def check() -> bool:
        return http_get(url)[0] == 200

    return check


def wait_until(
    condition: Callable[[], Any], timeout: float, *, interval: float = 0.2, what: str = ""
) -> Any:
    """Polls ``condition`` until it returns something truthy; bounded in time and count.

    Returns:
        The first truthy result.

    Raises:
        TimeoutError: The condition stayed false for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout}s: {what or condition}")
