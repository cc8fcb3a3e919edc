"""What the two bare workers share, from the SDK alone: the server, its prewarm, the job's end.

``bench.baseline`` and ``bench.voice_baseline`` run an ``AgentServer`` with the worker's
values for what both share, a prewarm that loads the Silero VAD as the worker's does, and
a job that ends when the last remote participant leaves, as the worker's does. Nothing of
the project is imported here, so that the bare workers stay bare.
"""

from __future__ import annotations

import os

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess
from livekit.plugins import silero

__all__ = ["bare_server", "end_when_empty"]


def _prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


def bare_server() -> AgentServer:
    """An ``AgentServer`` from the variables the bench gives both workers
    (``WORKER_NUM_IDLE_PROCESSES``, ``HEALTH_PORT``, ``LOG_LEVEL``), prewarming the VAD."""
    server = AgentServer(
        num_idle_processes=int(os.environ.get("WORKER_NUM_IDLE_PROCESSES", "3")),
        # the worker's values for what both share
        initialize_process_timeout=30.0,
        host="127.0.0.1",
        port=int(os.environ.get("HEALTH_PORT", "0")),
        log_level=os.environ.get("LOG_LEVEL", "INFO"),
    )
    server.setup_fnc = _prewarm
    return server


def end_when_empty(ctx: JobContext) -> None:
    """End the job when the last remote participant of its (connected) room has left."""

    def on_disconnected(_participant: rtc.RemoteParticipant) -> None:
        if not ctx.room.remote_participants:
            ctx.shutdown(reason="room empty")

    ctx.room.on("participant_disconnected", on_disconnected)
