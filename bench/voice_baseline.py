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

from livekit.agents import JobContext, JobProcess, cli
from livekit.agents.voice import Agent

from bench.bare_server import bare_server, end_when_empty
from worker.settings import RuntimeSettings
from worker.voice import build_plugins, build_session, load_vad

__all__ = ["server"]


def _prewarm(proc: JobProcess) -> None:
    # the worker's VAD: the comparison is the same pipeline with and without the telemetry
    proc.userdata["vad"] = load_vad()


server = bare_server(prewarm=_prewarm)


@server.rtc_session(agent_name=os.environ.get("AGENT_NAME", ""))
async def entrypoint(ctx: JobContext) -> None:
    """Connect, start the same voice session as the worker, end when the room empties."""
    settings = RuntimeSettings()
    await ctx.connect()
    end_when_empty(ctx)
    session = build_session(build_plugins(settings), ctx.proc.userdata["vad"])
    await session.start(agent=Agent(instructions=settings.VOICE_INSTRUCTIONS), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(server)
