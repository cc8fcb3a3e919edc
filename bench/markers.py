"""The log lines by which the bench times a job's entrypoint and room connection.

The project's worker logs ``Job received for room: <room>`` when its entrypoint starts and
``Connected to room: <room>`` once ``ctx.connect()`` returned; the bare baseline logs the
lines below at the same two points. Kept apart so the baseline imports nothing else.
"""

from __future__ import annotations

__all__ = [
    "BARE_CONNECTED",
    "BARE_ENTRYPOINT",
    "OURS_CONNECTED",
    "OURS_ENTRYPOINT",
]

BARE_ENTRYPOINT = "Baseline job received for room"
BARE_CONNECTED = "Baseline connected to room"
OURS_ENTRYPOINT = "| Job received for room"
OURS_CONNECTED = "| Connected to room"
