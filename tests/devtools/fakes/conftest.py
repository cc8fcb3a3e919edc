"""Fixtures for the provider fakes' tests: an HTTP session for the plugins, no retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit.agents import APIConnectOptions

# The plugins retry by default (3 times, 2 s apart); a fault must surface at once.
NO_RETRY = APIConnectOptions(max_retry=0, timeout=1.0)
# For the faults: a hang or a stall surfaces at this timeout.
FAULT_TIMEOUT = APIConnectOptions(max_retry=0, timeout=0.5)
# Slack on top of an injected delay: loopback, JSON, the event loop, on a loaded 2-core machine.
TOLERANCE_S = 0.15
# How far the fake's own record of a delay may stray from the configured one.
SERVER_TOLERANCE_S = 0.05


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The session the Deepgram and Cartesia plugins take outside a job."""
    async with aiohttp.ClientSession() as session:
        yield session
