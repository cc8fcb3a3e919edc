"""The voice pipeline without the project: the bench's "telemetry off" worker.

``python -m bench.voice_baseline dev`` runs an ``AgentServer`` through the SDK's own
``cli.run_app`` whose job starts the very session the worker starts (``worker.voice``'s
``build_plugins`` and ``build_session``, from the same ``VOICE_*`` variables) and nothing of
the project's telemetry: no tracer provider, no voice observer, no metrics, no logging
setup. The job ends when the last remote participant leaves, as the worker's does.
"""

from __future__ import annotations

import os

# prometheus_client picks its mode at import: the bare worker keeps the SDK's default
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, cli
from livekit.agents.voice import Agent
from livekit.plugins import silero

from worker.settings import RuntimeSettings
from worker.voice import build_plugins, build_session

__all__ = ["server"]

server = AgentServer(
    num_idle_processes=int(os.environ.get("WORKER_NUM_IDLE_PROCESSES", "3")),
    initialize_process_timeout=30.0,
    host="127.0.0.1",
    port=int(os.environ.get("HEALTH_PORT", "0")),
    log_level=os.environ.get("LOG_LEVEL", "INFO"),
)


def prewarm(proc: JobProcess) -> None:
    """Load the VAD, as the worker's prewarm does."""
    proc.userdata["vad"] = silero.VAD.load()


server.setup_fnc = prewarm


@server.rtc_session(agent_name=os.environ.get("AGENT_NAME", ""))
async def entrypoint(ctx: JobContext) -> None:
    """Connect, start the same voice session as the worker, end when the room empties."""
    settings = RuntimeSettings()
    await ctx.connect()

    def end_when_empty(_participant: rtc.RemoteParticipant) -> None:
        if not ctx.room.remote_participants:
            ctx.shutdown(reason="room empty")

    ctx.room.on("participant_disconnected", end_when_empty)
    session = build_session(build_plugins(settings), ctx.proc.userdata["vad"])
    await session.start(agent=Agent(instructions=settings.VOICE_INSTRUCTIONS), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(server)
