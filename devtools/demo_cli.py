"""What the demo commands share: the configured server, and one line for a failed run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from livekit import api

from worker.settings import RuntimeSettings

from .synthetic import ServerAccess

__all__ = ["configured_access", "run_or_report"]


def configured_access(settings: RuntimeSettings) -> ServerAccess:
    """The LiveKit server and credentials of ``settings``."""
    return ServerAccess(
        settings.LIVEKIT_URL,
        settings.LIVEKIT_API_KEY,
        settings.LIVEKIT_API_SECRET.get_secret_value(),
    )


def run_or_report(demo: Coroutine[Any, Any, None], what: str) -> int:
    """Run ``demo``; returns 0, or 1 after one line on stderr when the server could not be
    reached, timed out or refused an API call."""
    try:
        asyncio.run(demo)
    except (OSError, TimeoutError, api.TwirpError) as error:
        print(f"error: {what} failed: {error}", file=sys.stderr)
        return 1
    return 0
