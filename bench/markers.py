"""The log lines by which the bench times the bare baseline's entrypoint and room connection.

The project's worker logs ``worker.log_messages.JOB_RECEIVED`` and ``CONNECTED_TO_ROOM``
(``<line>: <room>``) when its entrypoint starts and once ``ctx.connect()`` returned; the
bare baseline logs the lines below at the same two points. Kept apart so the baseline
imports nothing of the worker.
"""

from __future__ import annotations

__all__ = [
    "BARE_CONNECTED",
    "BARE_ENTRYPOINT",
]

BARE_ENTRYPOINT = "Baseline job received for room"
BARE_CONNECTED = "Baseline connected to room"
