"""The log lines operators, tests and the benchmark look for, written once.

Most constants are the fixed start of a line, which the log call completes with lazy
arguments (``logger.info("%s: %s", JOB_RECEIVED, room)``), so that a reader can find every
such line by the prefix alone. A constant with ``%s`` in it is the whole format string.
"""

from __future__ import annotations

__all__ = [
    "CONNECTED_TO_ROOM",
    "HANDLER_FAILED",
    "JOB_PROCESS_EXITED",
    "JOB_RECEIVED",
    "JOB_SHUTTING_DOWN",
    "PARTICIPANT_CONNECTED",
    "PARTICIPANT_DISCONNECTED",
    "REGISTERED_AGAIN",
]

# "<JOB_RECEIVED>: <room>", when a job's entrypoint starts
JOB_RECEIVED = "Job received for room"
# "<CONNECTED_TO_ROOM>: <room>", once the job joined its room
CONNECTED_TO_ROOM = "Connected to room"
# "<JOB_SHUTTING_DOWN> (reason: <reason>)", when a job ends
JOB_SHUTTING_DOWN = "Job shutting down"
# "<REGISTERED_AGAIN> (worker <id>)", after a lost connection to the LiveKit server
REGISTERED_AGAIN = "Registered again with the LiveKit server"
# "<PARTICIPANT_CONNECTED>: <participant> (kind: <kind>)"
PARTICIPANT_CONNECTED = "Participant connected"
# "<PARTICIPANT_DISCONNECTED>: <participant> (reason: <reason>)"
PARTICIPANT_DISCONNECTED = "Participant disconnected"
# the event name
HANDLER_FAILED = "Room handler for %s failed"
# the pid and the exit code of a job process that died while running a job
JOB_PROCESS_EXITED = "Job process %s exited with code %s during a job"
