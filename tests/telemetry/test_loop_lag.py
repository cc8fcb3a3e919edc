"""Event-loop lag sampling."""

from __future__ import annotations

import asyncio
import time

from telemetry.loop_lag import monitor_loop_lag


async def test_a_blocked_loop_shows_as_lag() -> None:
    lags: list[float] = []
    task = asyncio.create_task(monitor_loop_lag(lags.append, interval=0.01, iterations=3))
    await asyncio.sleep(0)
    time.sleep(0.12)  # noqa: ASYNC251 - blocking the loop is the point
    await asyncio.wait_for(task, 5)
    assert len(lags) == 3
    assert max(lags) >= 0.1
    assert min(lags) >= 0
