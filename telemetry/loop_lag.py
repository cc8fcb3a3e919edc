"""Sample how late an event loop runs its timers.

A timer that fires late is what a participant hears as a gap: the loop was busy with
something else. The SDK's own loop monitor reports blocks above a threshold as spans and
warnings; this is the continuous measurement behind a Prometheus histogram.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["monitor_loop_lag"]


async def monitor_loop_lag(
    record: Callable[[float], None], *, interval: float = 0.5, iterations: int | None = None
) -> None:
    """Sleep ``interval`` seconds at a time and record how late each wake-up was.

    Args:
        record: receives each lag in seconds.
        interval: seconds between samples.
        iterations: stop after this many samples (None: until cancelled).
    """
    loop = asyncio.get_running_loop()
    count = 0
    while iterations is None or count < iterations:
        started = loop.time()
        await asyncio.sleep(interval)
        record(max(loop.time() - started - interval, 0.0))
        count += 1
