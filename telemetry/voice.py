"""Live voice-pipeline metrics from the SDK's own per-turn report and the plugins' events.

The per-turn latencies come from ``ChatMessage.metrics`` (the SDK's ``MetricsReport``) of
each message the session commits (``conversation_item_added``): the user's message carries
the end-of-turn and transcription delays, the agent's the LLM time to first token, the TTS
time to first byte and the end-to-end latency. Taking them from there makes the worker's
figures the SDK's figures for the same turn, and records them as each turn is committed,
not when the session ends. Usage comes from the plugins' ``metrics_collected`` events (one
per request), failures from the session's ``error`` events.

Nothing here reads text: transcripts and replies never reach a metric or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.agents import llm
from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics
from livekit.agents.voice import events

from .catalogue import VOICE_STAGES
from .metrics import VoiceModels, WorkerMetrics
from .voice_errors import error_kind

__all__ = ["MAX_STAGE_SECONDS", "USER_STAGES", "AGENT_STAGES", "VoiceObserver", "stage_values"]

logger = logging.getLogger(__name__)

MAX_STAGE_SECONDS = 60.0
"""A stage longer than this is a measurement bug (the SDK has had such), not a slow turn."""

USER_STAGES = {"end_of_turn": "end_of_turn_delay", "transcription": "transcription_delay"}
"""Stage label → ``MetricsReport`` key, on the user's message."""
AGENT_STAGES = {
    "llm_ttft": "llm_node_ttft",
    "tts_ttfb": "tts_node_ttfb",
    "end_to_end": "e2e_latency",
}
"""Stage label → ``MetricsReport`` key, on the agent's message."""

_COMPONENTS = {"stt_error": "stt", "llm_error": "llm", "tts_error": "tts"}


_Emitter = rtc.EventEmitter[Any]


def stage_values(message: llm.ChatMessage) -> dict[str, float]:
    """The stage latencies a committed message reports, by stage label (absent ones left out)."""
    stages = AGENT_STAGES if message.role == "assistant" else USER_STAGES
    report: dict[str, Any] = dict(message.metrics)
    return {stage: float(report[key]) for stage, key in stages.items() if key in report}


class VoiceObserver:
    """Records one voice session's turns, usage and failures.

    Args:
        session: the ``AgentSession`` (any emitter of its events).
        plugins: the session's STT, LLM and TTS objects, whose ``metrics_collected`` events
            carry each request's usage.
        metrics: where the counters go.
        models: the provider and model labels of each component (from the settings: the
            plugins' own ``provider`` is the base URL's host).
        report_stage: sends one stage latency (stage, seconds) to the main process's
            exemplar histogram.
        on_session_failed: called once when the session closes on an unrecoverable error.
    """

    def __init__(
        self,
        session: _Emitter,
        plugins: tuple[_Emitter, _Emitter, _Emitter],
        metrics: WorkerMetrics,
        models: VoiceModels,
        *,
        report_stage: Callable[[str, float], object],
        on_session_failed: Callable[[str], object] | None = None,
    ) -> None:
        self._session = session
        self._plugins = plugins
        self._metrics = metrics
        self._models = models
        self._report_stage = report_stage
        self._on_session_failed = on_session_failed
        self._active = False
        self._handlers: list[tuple[_Emitter, str, Callable[..., Any]]] = [
            (session, "conversation_item_added", self._item_added),
            (session, "agent_false_interruption", self._false_interruption),
            (session, "function_tools_executed", self._tools_executed),
            (session, "error", self._error),
            (session, "close", self._closed),
            *((plugin, "metrics_collected", self._usage) for plugin in plugins),
        ]

    def start(self) -> None:
        """Subscribe to the session and its plugins, and count the session as running."""
        for emitter, event, handler in self._handlers:
            emitter.on(event, handler)
        self._active = True
        self._metrics.voice_session_started()

    def close(self) -> None:
        """Unsubscribe and stop counting the session; safe to call more than once."""
        if not self._active:
            return
        self._active = False
        self._metrics.voice_session_ended()
        for emitter, event, handler in self._handlers:
            emitter.off(event, handler)

    def _item_added(self, event: events.ConversationItemAddedEvent) -> None:
        message = event.item
        if not isinstance(message, llm.ChatMessage) or message.role not in ("user", "assistant"):
            return
        for stage, seconds in stage_values(message).items():
            self._stage(stage, seconds)
        if message.role == "assistant":
            self._metrics.voice_turn(interrupted=message.interrupted)

    def _stage(self, stage: str, seconds: float) -> None:
        assert stage in VOICE_STAGES
        if seconds < 0:
            self._metrics.voice_latency_invalid(stage, "negative")
        elif seconds > MAX_STAGE_SECONDS:
            self._metrics.voice_latency_invalid(stage, "over_60s")
        else:
            self._report_stage(stage, seconds)

    def _false_interruption(self, event: events.AgentFalseInterruptionEvent) -> None:
        self._metrics.voice_false_interruption(resumed=event.resumed)

    def _tools_executed(self, event: events.FunctionToolsExecutedEvent) -> None:
        for call, output in zip(event.function_calls, event.function_call_outputs, strict=False):
            seconds = max(output.created_at - call.created_at, 0.0)
            self._metrics.voice_tool_call(seconds, ok=not output.is_error)

    def _usage(self, report: object) -> None:
        if isinstance(report, LLMMetrics):
            tokens = (report.prompt_tokens, report.prompt_cached_tokens, report.completion_tokens)
            ttft = report.ttft if report.ttft >= 0 else None
            self._metrics.voice_llm_request(
                *self._models.llm, tokens=tokens, ttft=ttft, duration=report.duration
            )
        elif isinstance(report, TTSMetrics):
            self._metrics.voice_tts_usage(
                *self._models.tts, report.characters_count, report.audio_duration
            )
        elif isinstance(report, STTMetrics):
            self._metrics.voice_stt_usage(*self._models.stt, report.audio_duration)

    def _error(self, event: events.ErrorEvent) -> None:
        component = _COMPONENTS.get(getattr(event.error, "type", ""))
        if component is None:
            return
        provider = getattr(self._models, component)[0]
        failure = event.error.error
        kind = error_kind(failure)
        self._metrics.voice_provider_error(provider, kind)
        # the exception's type and status only: a provider's message may quote the request
        logger.warning(
            "Voice provider %s failed: %s (%s, %s)",
            provider,
            kind,
            type(failure).__name__,
            "recoverable" if event.error.recoverable else "unrecoverable",
            extra={"provider": provider, "error_kind": kind},
        )

    def _closed(self, event: events.CloseEvent) -> None:
        was_active = self._active
        self.close()
        if was_active and event.error is not None and self._on_session_failed is not None:
            self._on_session_failed(f"voice session failed: {event.error.type}")
