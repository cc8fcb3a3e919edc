"""``python -m tests.support.metadata_worker dev|start``: the worker with one more room handler.

The worker's own room handlers accept anything a participant can send (the hostile-input
tests show it), so no participant can make one of them raise. The agent logic of later
epics will read each participant's metadata as JSON, and that is where a participant's data
can break a handler. This module adds that step to the worker's ``participant_connected``
handler, inside the worker's handler guard, so a participant with malformed metadata makes a
room handler raise for real: the failure then takes the worker's own path (log line, root
span status, ``jobs_failed_total{reason="handler_error"}``).

Nothing in ``worker/`` changes. Room handlers run only in job processes; multiprocessing
imports this module there again, as ``__mp_main__``, before it unpickles the job's code,
which is when the handler is extended. The main process only runs the worker, so that
prometheus_client is still imported after multiprocess mode is enabled.

Run it with ``WorkerProcess(..., module="tests.support.metadata_worker")``.
"""

from __future__ import annotations

import json
from typing import Any


def extend_participant_connected() -> None:
    """Make ``participant_connected`` also parse the participant's metadata as JSON."""
    from worker.handlers import RoomHandlers

    original = RoomHandlers.participant_connected

    def participant_connected(self: RoomHandlers, participant: Any) -> None:
        original(self, participant)
        if participant.metadata:
            json.loads(participant.metadata)  # what later epics' agent logic will do

    participant_connected.__doc__ = original.__doc__
    RoomHandlers.participant_connected = participant_connected  # type: ignore[method-assign]


if __name__ == "__main__":
    from worker.__main__ import _main

    _main()
elif __name__ == "__mp_main__":
    extend_participant_connected()
