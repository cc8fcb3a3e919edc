"""What the two bare workers share, from the SDK alone: the server, its prewarm, the job's end.

``bench.baseline`` and ``bench.voice_baseline`` run an ``AgentServer`` with the worker's
values for what both share, a prewarm that makes a Silero VAD as the worker's does, and a
job that ends when the last remote participant leaves, as the worker's does. Nothing of the
project is imported here, so that the bare workers stay bare.

The bare worker's prewarm is the SDK's documented one, ``silero.VAD.load()``, which builds
an ONNX Runtime session in every job process. The worker makes the SDK's native Silero VAD
instead, whose model the SDK loads once in the forkserver (``worker.voice.load_vad``): work
the SDK alone re-does per job and the project does once, which the CPU-per-job figure
counts in the project's favour (bench/README.md says by how much). The voice bench's
baseline passes the worker's VAD, so that its comparison is the same pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, inference
from livekit.plugins import silero

__all__ = [
    "NATIVE_VAD_MIN_SILENCE",
    "bare_server",
    "end_when_empty",
    "native_prewarm",
    "sdk_prewarm",
]

# the worker's VAD setting (worker.voice.load_vad); a test keeps the two equal
NATIVE_VAD_MIN_SILENCE = 0.55


def sdk_prewarm(proc: JobProcess) -> None:
    """The SDK's documented prewarm: the Silero plugin's VAD, loaded in each job process."""
    proc.userdata["vad"] = silero.VAD.load()


def native_prewarm(proc: JobProcess) -> None:
    """The worker's prewarm VAD, from the SDK alone: its native Silero VAD, whose model the
    SDK preloads in the forkserver."""
    proc.userdata["vad"] = inference.VAD(min_silence_duration=NATIVE_VAD_MIN_SILENCE)


def bare_server(prewarm: Callable[[JobProcess], None] = sdk_prewarm) -> AgentServer:
    """An ``AgentServer`` from the variables the bench gives both workers
    (``WORKER_NUM_IDLE_PROCESSES``, ``HEALTH_PORT``, ``LOG_LEVEL``), with ``prewarm``."""
    server = AgentServer(
        num_idle_processes=int(os.environ.get("WORKER_NUM_IDLE_PROCESSES", "3")),
        # the worker's values for what both share
        initialize_process_timeout=30.0,
        host="127.0.0.1",
        port=int(os.environ.get("HEALTH_PORT", "0")),
        log_level=os.environ.get("LOG_LEVEL", "INFO"),
    )
    server.setup_fnc = prewarm
    return server


def end_when_empty(ctx: JobContext) -> None:
    """End the job when the last remote participant of its (connected) room has left."""

    def on_disconnected(_participant: rtc.RemoteParticipant) -> None:
        if not ctx.room.remote_participants:
            ctx.shutdown(reason="room empty")

    ctx.room.on("participant_disconnected", on_disconnected)
