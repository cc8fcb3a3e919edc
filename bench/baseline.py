"""The bare worker the benchmark compares against: the same SDK, the same job, nothing else.

``python -m bench.baseline dev|start`` runs an ``AgentServer`` through the SDK's own
``cli.run_app``, with the SDK's own logging, and without the project: no settings module,
no telemetry, no logging setup, no room handlers, no metrics endpoint (it imports only the
two log markers of ``bench.markers`` and the SDK-only ``bench.bare_server``). Its job
behaves as the worker's does: prewarm makes a Silero VAD (the SDK's documented way,
``silero.VAD.load()``; the worker takes the SDK's preloaded native one), the entrypoint
connects to the room and the job ends when the last remote participant leaves (with
``BARE_VAD=native``, prewarm makes the worker's VAD instead, from the SDK alone, so that a
comparison can leave the VAD out). It logs one
line when the entrypoint starts and one when the room is connected, where the worker logs
"Job received for room" and "Connected to room".

It reads the variables the benchmark gives both workers: ``LIVEKIT_*`` (read by the SDK),
``AGENT_NAME``, ``WORKER_NUM_IDLE_PROCESSES``, ``HEALTH_PORT`` and ``LOG_LEVEL``.
"""

from __future__ import annotations

import logging
import os

# prometheus_client picks its mode at import: the bare worker keeps the SDK's default
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from livekit.agents import JobContext, cli

from bench.bare_server import bare_server, end_when_empty, native_prewarm, sdk_prewarm
from bench.markers import BARE_CONNECTED, BARE_ENTRYPOINT

__all__ = ["server"]

logger = logging.getLogger("bench.baseline")

server = bare_server(native_prewarm if os.environ.get("BARE_VAD") == "native" else sdk_prewarm)


@server.rtc_session(agent_name=os.environ.get("AGENT_NAME", ""))
async def entrypoint(ctx: JobContext) -> None:
    """Connect, and end the job when the last remote participant has left."""
    logger.info("%s: %s", BARE_ENTRYPOINT, ctx.job.room.name)
    await ctx.connect()
    logger.info("%s: %s", BARE_CONNECTED, ctx.job.room.name)
    end_when_empty(ctx)


if __name__ == "__main__":
    cli.run_app(server)
