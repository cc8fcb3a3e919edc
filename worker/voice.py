"""The voice pipeline: an ``AgentSession`` assembled from the settings, and its telemetry.

With ``VOICE_PIPELINE=on`` the entrypoint starts one session per room: Deepgram STT, OpenAI
LLM and Cartesia TTS at the base URLs the settings name (the providers, or the local fakes
of ``devtools.fakes``), and the Silero VAD prewarm made (:func:`load_vad`). The agent is
minimal: its instructions come from a setting; its real logic is a later epic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from livekit.agents import JobContext, inference, vad
from livekit.agents.voice import Agent, AgentSession
from livekit.plugins import cartesia, deepgram, openai
from opentelemetry import trace

from telemetry.exemplars import ObservationReporter, voice_stage_key
from telemetry.metrics import VoiceModels, get_metrics
from telemetry.voice import VoiceObserver

from .server import OBSERVATIONS_SOCKET
from .settings import RuntimeSettings

__all__ = ["VoiceRuntime", "build_plugins", "build_session", "load_vad", "voice_models"]

logger = logging.getLogger(__name__)

# the Silero plugin's default, which the pipeline's turn timings were verified with (the
# native VAD's own default is 0.25 s)
_VAD_MIN_SILENCE_SECONDS = 0.55


def load_vad() -> vad.VAD:
    """The Silero VAD of the job process's sessions, as prewarm makes it.

    The SDK's native Silero VAD (``livekit.agents.inference.VAD``), not the plugin's
    ``silero.VAD.load()``: the SDK loads the native model once, in the forkserver every job
    process is forked from, so making one here costs about 0.3 ms of CPU, where the plugin
    builds an ONNX Runtime session in every job process (about 37 ms; bench/README.md).
    """
    return inference.VAD(min_silence_duration=_VAD_MIN_SILENCE_SECONDS)


def voice_models(settings: RuntimeSettings) -> VoiceModels:
    """The provider and model labels of the pipeline's metrics, from the settings.

    Never the plugins' own ``provider``: for OpenAI it is the base URL's host, which would
    make a label of a port number.
    """
    return VoiceModels(
        stt=("deepgram", settings.VOICE_STT_MODEL),
        llm=("openai", settings.VOICE_LLM_MODEL),
        tts=("cartesia", settings.VOICE_TTS_MODEL),
    )


def _key(settings: RuntimeSettings, name: str) -> str:
    secret = getattr(settings, name)
    if secret is None:  # preflight refuses this before the worker starts
        raise ValueError(f"{name} is not set")
    value: str = secret.get_secret_value()
    return value


def build_plugins(settings: RuntimeSettings) -> tuple[deepgram.STT, openai.LLM, cartesia.TTS]:
    """The STT, LLM and TTS of one session, at the base URLs and with the keys the settings give."""
    return (
        deepgram.STT(
            model=settings.VOICE_STT_MODEL,
            language=settings.VOICE_STT_LANGUAGE,
            base_url=settings.VOICE_STT_BASE_URL,
            api_key=_key(settings, "DEEPGRAM_API_KEY"),
        ),
        openai.LLM(
            model=settings.VOICE_LLM_MODEL,
            base_url=settings.VOICE_LLM_BASE_URL,
            api_key=_key(settings, "OPENAI_API_KEY"),
        ),
        cartesia.TTS(
            model=settings.VOICE_TTS_MODEL,
            voice=settings.VOICE_TTS_VOICE,
            base_url=settings.VOICE_TTS_BASE_URL,
            api_key=_key(settings, "CARTESIA_API_KEY"),
        ),
    )


def build_session(
    plugins: tuple[deepgram.STT, openai.LLM, cartesia.TTS], vad_model: vad.VAD
) -> AgentSession[None]:
    """The session of one room: the three providers and the VAD prewarm loaded.

    Interruptions use the VAD (``mode: vad``): the adaptive detector would call LiveKit
    Cloud's inference service, which a self-hosted worker does not use.
    """
    stt, llm, tts = plugins
    return AgentSession(
        stt=stt,
        llm=llm,
        tts=tts,
        vad=vad_model,
        turn_handling={"turn_detection": "vad", "interruption": {"mode": "vad"}},
    )


class VoiceRuntime:
    """One room's voice session and the observer of its turns.

    Args:
        ctx: the job's context.
        settings: the worker's settings.
        root: the job's root span (``job_entrypoint``), whose trace the exemplars name.
        on_failed: called when the session ends on an unrecoverable provider error.
    """

    def __init__(
        self,
        ctx: JobContext,
        settings: RuntimeSettings,
        root: trace.Span,
        on_failed: Callable[[str], object],
    ) -> None:
        self._ctx = ctx
        self._settings = settings
        context = root.get_span_context()
        self._trace_id = f"{context.trace_id:032x}" if context.trace_flags.sampled else None
        self._reporter = ObservationReporter(settings.metrics_dir / OBSERVATIONS_SOCKET)
        plugins = build_plugins(settings)
        self.session = build_session(plugins, ctx.proc.userdata["vad"])
        metrics = get_metrics()
        models = voice_models(settings)
        metrics.initialize_voice_series(models)
        self.observer = VoiceObserver(
            self.session,
            plugins,
            metrics,
            models,
            report_stage=self._report_stage,
            on_session_failed=on_failed,
        )

    def _report_stage(self, stage: str, seconds: float) -> None:
        self._reporter.report(voice_stage_key(stage), seconds, self._trace_id)

    async def start(self) -> None:
        """Start the session in the room; its spans join the job's trace (the current span)."""
        self.observer.start()
        self._ctx.add_shutdown_callback(self._on_shutdown)
        await self.session.start(
            agent=Agent(instructions=self._settings.VOICE_INSTRUCTIONS), room=self._ctx.room
        )
        logger.info("Voice session started")

    async def _on_shutdown(self, _reason: str) -> None:
        self.observer.close()
        self._reporter.close()
