"""The voice observer fed the SDK's own event objects: per-turn stages, usage, failures."""

from __future__ import annotations

import logging
import time

import pytest
from livekit import rtc
from livekit.agents import APIConnectionError, APIStatusError, llm, stt, tts
from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics
from livekit.agents.voice import events
from prometheus_client import CollectorRegistry

from telemetry.metrics import VoiceModels, WorkerMetrics
from telemetry.voice import VoiceObserver, stage_values

from .conftest import sample

MODELS = VoiceModels(("deepgram", "nova-3"), ("openai", "gpt-4o-mini"), ("cartesia", "sonic-3"))
SECRET_WORDS = "my account number is 4242"


class _Observed:
    def __init__(self, metrics: WorkerMetrics) -> None:
        self.session: rtc.EventEmitter[str] = rtc.EventEmitter()
        self.plugins: tuple[rtc.EventEmitter[str], ...] = tuple(
            rtc.EventEmitter() for _ in range(3)
        )
        self.stages: list[tuple[str, float]] = []
        self.failed: list[str] = []
        self.observer = VoiceObserver(
            self.session,
            (self.plugins[0], self.plugins[1], self.plugins[2]),
            metrics,
            MODELS,
            report_stage=lambda stage, seconds: self.stages.append((stage, seconds)),
            on_session_failed=self.failed.append,
        )
        self.observer.start()

    def add(self, message: llm.ChatMessage) -> None:
        self.session.emit(
            "conversation_item_added", events.ConversationItemAddedEvent(item=message)
        )


@pytest.fixture
def observed(metrics: WorkerMetrics) -> _Observed:
    return _Observed(metrics)


def _user(**report: float) -> llm.ChatMessage:
    return llm.ChatMessage(role="user", content=[SECRET_WORDS], metrics=report)  # type: ignore[arg-type]


def _agent(interrupted: bool = False, **report: float) -> llm.ChatMessage:
    return llm.ChatMessage(
        role="assistant",
        content=["Sunny."],
        interrupted=interrupted,
        metrics=report,  # type: ignore[arg-type]
    )


def test_each_turn_reports_the_sdk_s_own_figures(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    user = _user(end_of_turn_delay=0.61, transcription_delay=0.17, on_user_turn_completed_delay=0.0)
    agent = _agent(llm_node_ttft=0.31, tts_node_ttfb=0.22, e2e_latency=1.24, playback_latency=0.0)
    observed.add(user)
    observed.add(agent)
    assert observed.stages == [
        ("end_of_turn", 0.61),
        ("transcription", 0.17),
        ("llm_ttft", 0.31),
        ("tts_ttfb", 0.22),
        ("end_to_end", 1.24),
    ]
    assert stage_values(agent) == {"llm_ttft": 0.31, "tts_ttfb": 0.22, "end_to_end": 1.24}
    assert sample(registry, "agent_worker_voice_turns_total", outcome="completed") == 1
    assert sample(registry, "agent_worker_voice_sessions_active") == 1


def test_an_interrupted_reply_counts_as_an_interruption(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    observed.add(_agent(interrupted=True, llm_node_ttft=0.3))
    observed.session.emit(
        "agent_false_interruption", events.AgentFalseInterruptionEvent(resumed=True)
    )
    assert sample(registry, "agent_worker_voice_turns_total", outcome="interrupted") == 1
    assert sample(registry, "agent_worker_voice_turns_total", outcome="completed") == 0
    assert sample(registry, "agent_worker_voice_false_interruptions_total", resumed="true") == 1


@pytest.mark.parametrize(("value", "reason"), [(-0.2, "negative"), (75.0, "over_60s")])
def test_an_impossible_value_is_counted_not_observed(
    observed: _Observed, registry: CollectorRegistry, value: float, reason: str
) -> None:
    observed.add(_agent(e2e_latency=value, llm_node_ttft=0.3))
    assert observed.stages == [("llm_ttft", 0.3)]
    labels = {"stage": "end_to_end", "reason": reason}
    assert sample(registry, "agent_worker_voice_invalid_latency_total", **labels) == 1


def _llm_metrics(ttft: float = 0.3) -> LLMMetrics:
    return LLMMetrics(
        label="openai.LLM",
        request_id="r1",
        timestamp=time.time(),
        duration=0.9,
        ttft=ttft,
        cancelled=False,
        completion_tokens=9,
        prompt_tokens=120,
        prompt_cached_tokens=64,
        total_tokens=129,
        tokens_per_second=10.0,
    )


def test_usage_is_counted_by_provider_and_model(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    stt_plugin, llm_plugin, tts_plugin = observed.plugins
    llm_plugin.emit("metrics_collected", _llm_metrics())
    tts_plugin.emit(
        "metrics_collected",
        TTSMetrics(
            label="cartesia.TTS",
            request_id="t1",
            timestamp=time.time(),
            ttfb=0.2,
            duration=1.0,
            audio_duration=2.5,
            cancelled=False,
            characters_count=37,
            streamed=True,
        ),
    )
    stt_plugin.emit(
        "metrics_collected",
        STTMetrics(
            label="deepgram.STT",
            request_id="s1",
            timestamp=time.time(),
            duration=0.0,
            audio_duration=5.0,
            streamed=True,
        ),
    )
    llm = {"provider": "openai", "model": "gpt-4o-mini"}
    assert sample(registry, "agent_worker_voice_llm_tokens_total", **llm, type="input") == 120
    assert sample(registry, "agent_worker_voice_llm_tokens_total", **llm, type="cached_input") == 64
    assert sample(registry, "agent_worker_voice_llm_tokens_total", **llm, type="output") == 9
    tts = {"provider": "cartesia", "model": "sonic-3"}
    assert sample(registry, "agent_worker_voice_tts_characters_total", **tts) == 37
    assert sample(registry, "agent_worker_voice_tts_audio_seconds_total", **tts) == 2.5
    stt = {"provider": "deepgram", "model": "nova-3"}
    assert sample(registry, "agent_worker_voice_stt_audio_seconds_total", **stt) == 5.0
    gen_ai = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "gpt-4o-mini",
    }
    ttfc = "gen_ai_client_operation_time_to_first_chunk_seconds_sum"
    assert sample(registry, ttfc, **gen_ai) == pytest.approx(0.3)
    assert (
        sample(registry, "gen_ai_client_token_usage_sum", **gen_ai, gen_ai_token_type="input")
        == 120
    )


def test_a_reply_without_tokens_has_no_time_to_first_chunk(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    observed.plugins[1].emit("metrics_collected", _llm_metrics(ttft=-1))
    gen_ai = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "gpt-4o-mini",
    }
    ttfc = "gen_ai_client_operation_time_to_first_chunk_seconds_count"
    assert sample(registry, ttfc, **gen_ai) == 0
    assert sample(registry, "gen_ai_client_operation_duration_seconds_count", **gen_ai) == 1


def _error_event(error: Exception, component: str, recoverable: bool) -> events.ErrorEvent:
    kinds = {"llm": llm.LLMError, "stt": stt.STTError, "tts": tts.TTSError}
    failure = kinds[component](
        timestamp=time.time(), label=component, error=error, recoverable=recoverable
    )
    return events.ErrorEvent(error=failure, source=None)


def test_a_provider_failure_is_counted_and_logged_once(
    observed: _Observed, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    refused = APIStatusError(f"invalid key for {SECRET_WORDS}", status_code=401)
    with caplog.at_level(logging.WARNING, logger="telemetry.voice"):
        observed.session.emit("error", _error_event(refused, "llm", recoverable=False))
        observed.session.emit("error", _error_event(APIConnectionError(), "stt", recoverable=True))
    assert (
        sample(registry, "agent_worker_voice_provider_errors_total", provider="openai", kind="auth")
        == 1
    )
    assert (
        sample(
            registry,
            "agent_worker_voice_provider_errors_total",
            provider="deepgram",
            kind="connection",
        )
        == 1
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "telemetry.voice"]
    assert lines == [
        "Voice provider openai failed: auth (APIStatusError, unrecoverable)",
        "Voice provider deepgram failed: connection (APIConnectionError, recoverable)",
    ]
    assert all(SECRET_WORDS not in line for line in lines)


def test_a_session_closed_by_an_error_ends_the_job_once(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    failure = _error_event(APIStatusError("x", status_code=500), "tts", recoverable=False).error
    close = events.CloseEvent(error=failure, reason=events.CloseReason.ERROR)
    observed.session.emit("close", close)
    observed.session.emit("close", close)
    assert observed.failed == ["voice session failed: tts_error"]
    assert sample(registry, "agent_worker_voice_sessions_active") == 0


def test_a_normal_close_only_stops_counting_the_session(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    observed.session.emit("close", events.CloseEvent(reason=events.CloseReason.USER_INITIATED))
    observed.observer.close()
    assert observed.failed == []
    assert sample(registry, "agent_worker_voice_sessions_active") == 0


def test_the_series_count_is_the_same_after_twenty_sessions(registry: CollectorRegistry) -> None:
    metrics = WorkerMetrics(registry)
    metrics.initialize_voice_series(MODELS)

    def series() -> int:
        return sum(len(family.samples) for family in registry.collect())

    before = series()
    for _ in range(20):
        run = _Observed(metrics)
        run.add(_user(end_of_turn_delay=0.6, transcription_delay=0.2))
        run.add(_agent(interrupted=True, llm_node_ttft=0.3, e2e_latency=-1.0))
        run.plugins[1].emit("metrics_collected", _llm_metrics())
        run.session.emit("error", _error_event(APIConnectionError(), "tts", recoverable=True))
        run.session.emit("close", events.CloseEvent(reason=events.CloseReason.USER_INITIATED))
    assert series() == before


def test_a_tool_call_s_duration_is_recorded_by_outcome(
    observed: _Observed, registry: CollectorRegistry
) -> None:
    call = llm.FunctionCall(call_id="c1", name="lookup", arguments="{}", created_at=100.0)
    output = llm.FunctionCallOutput(
        call_id="c1", name="lookup", output="boom", is_error=True, created_at=100.25
    )
    observed.session.emit(
        "function_tools_executed",
        events.FunctionToolsExecutedEvent(function_calls=[call], function_call_outputs=[output]),
    )
    name = "agent_worker_voice_tool_call_duration_seconds"
    assert sample(registry, f"{name}_sum", outcome="error") == 0.25
    assert sample(registry, f"{name}_count", outcome="ok") == 0
