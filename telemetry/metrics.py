"""Every Prometheus metric of the project, and the verbs the rest of the code calls.

The metrics are declared in ``telemetry.catalogue``; this module creates them and records
into them. Names follow ``agent_worker_<noun>_<unit>``; every histogram has explicit buckets
and every label a closed set of values (``telemetry.labels``): room names, sids and
identities belong to traces and logs, never to labels.

Job processes record into prometheus_client's multiprocess files and the main process
serves them aggregated (``telemetry.exposition``). Two histograms are the exception: the
dispatch latency and the job duration carry ``trace_id`` exemplars, which the multiprocess
mode cannot store, so a job process reports those observations to the main process
(``telemetry.exemplars``), which owns them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, NamedTuple, TypeVar, overload

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from . import catalogue as c
from .catalogue import (
    JOB_FAILURE_REASONS,
    PREFIX,
    SPAN_LOSS_REASONS,
    VOICE_ERROR_KINDS,
    VOICE_LATENCY_REASONS,
    VOICE_LLM_TOKEN_TYPES,
    VOICE_STAGES,
    VOICE_TURN_OUTCOMES,
    Metric,
)

__all__ = ["PREFIX", "VoiceModels", "WorkerMetrics", "build_metric", "get_metrics"]

_CHAT = "chat"


class VoiceModels(NamedTuple):
    """The ``(provider, model)`` label pairs of the voice pipeline's three components."""

    stt: tuple[str, str]
    llm: tuple[str, str]
    tts: tuple[str, str]


_M = TypeVar("_M", bound=Counter | Gauge | Histogram)


def build_metric(metric: Metric, registry: CollectorRegistry) -> Counter | Gauge | Histogram:
    """The prometheus_client object declared by a catalogue entry, on ``registry``."""
    if metric.type == "counter":
        return Counter(metric.name, metric.help, metric.labels, registry=registry)
    if metric.type == "histogram":
        return Histogram(
            metric.name, metric.help, metric.labels, buckets=metric.buckets, registry=registry
        )
    return Gauge(
        metric.name,
        metric.help,
        metric.labels,
        registry=registry,
        multiprocess_mode=metric.multiprocess_mode,
    )


class _Lazy(Generic[_M]):
    """A metric of :class:`WorkerMetrics`, created on its first use unless created eagerly.

    Creating a metric costs most in multiprocess mode, where an unlabelled one opens and
    fills its process's file at once; a job process records only about a third of them.
    Once created, the metric is an attribute of the instance, which shadows this descriptor:
    recording into it costs no more than before.
    """

    def __init__(self, metric: Metric, kind: type[_M]) -> None:
        self.metric = metric
        self._kind = kind
        self._attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._attribute = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _Lazy[_M]: ...

    @overload
    def __get__(self, instance: WorkerMetrics, owner: type | None = None) -> _M: ...

    def __get__(self, instance: WorkerMetrics | None, owner: type | None = None) -> _M | _Lazy[_M]:
        if instance is None:
            return self
        return instance._create(self._attribute, self.metric, self._kind)


class WorkerMetrics:
    """The project's metrics on one registry, recorded through verb methods.

    Every catalogue entry owned by the worker is created here, except the exemplar
    histograms, which the main process owns (``telemetry.exemplars``).

    Args:
        registry: where the metrics are registered; tests pass a fresh one.
        lazy: create each metric when it is first recorded into, instead of all at once. A
            job process is lazy (it records a third of them, and creating one costs most in
            multiprocess mode); the main process is not, so that every series it serves
            exists from the start.
    """

    _build_info = _Lazy(c.BUILD_INFO, Gauge)
    _registered = _Lazy(c.REGISTERED, Gauge)
    _reconnects = _Lazy(c.RECONNECTS, Counter)
    _jobs_received = _Lazy(c.JOBS_RECEIVED, Counter)
    _jobs_accepted = _Lazy(c.JOBS_ACCEPTED, Counter)
    _jobs_failed = _Lazy(c.JOBS_FAILED, Counter)
    _connect = _Lazy(c.ROOM_CONNECT_DURATION, Histogram)
    _participants = _Lazy(c.ACTIVE_PARTICIPANTS, Gauge)
    _joined = _Lazy(c.PARTICIPANTS_JOINED, Counter)
    _left = _Lazy(c.PARTICIPANTS_LEFT, Counter)
    _published = _Lazy(c.TRACKS_PUBLISHED, Counter)
    _unpublished = _Lazy(c.TRACKS_UNPUBLISHED, Counter)
    _disconnections = _Lazy(c.ROOM_DISCONNECTIONS, Counter)
    _prewarm = _Lazy(c.PREWARM_DURATION, Histogram)
    _spans_ended = _Lazy(c.SPANS_ENDED, Counter)
    _spans_exported = _Lazy(c.SPANS_EXPORTED, Counter)
    _spans_relayed = _Lazy(c.SPANS_RELAYED, Counter)
    _export_failures = _Lazy(c.SPAN_EXPORT_FAILURES, Counter)
    _spans_dropped = _Lazy(c.SPANS_DROPPED, Counter)
    _loop_lag = _Lazy(c.EVENT_LOOP_LAG, Histogram)
    _voice_sessions = _Lazy(c.VOICE_SESSIONS_ACTIVE, Gauge)
    _voice_invalid = _Lazy(c.VOICE_INVALID_LATENCY, Counter)
    _voice_turns = _Lazy(c.VOICE_TURNS, Counter)
    _voice_false = _Lazy(c.VOICE_FALSE_INTERRUPTIONS, Counter)
    _voice_tools = _Lazy(c.VOICE_TOOL_CALL_DURATION, Histogram)
    _voice_tokens = _Lazy(c.VOICE_LLM_TOKENS, Counter)
    _voice_tts_chars = _Lazy(c.VOICE_TTS_CHARACTERS, Counter)
    _voice_tts_audio = _Lazy(c.VOICE_TTS_AUDIO, Counter)
    _voice_stt_audio = _Lazy(c.VOICE_STT_AUDIO, Counter)
    _voice_errors = _Lazy(c.VOICE_PROVIDER_ERRORS, Counter)
    _gen_ai_ttfc = _Lazy(c.VOICE_TIME_TO_FIRST_CHUNK, Histogram)
    _gen_ai_duration = _Lazy(c.VOICE_OPERATION_DURATION, Histogram)
    _gen_ai_tokens = _Lazy(c.VOICE_TOKEN_USAGE, Histogram)

    def __init__(self, registry: CollectorRegistry = REGISTRY, *, lazy: bool = False) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        if not lazy:
            for attribute in _lazy_metrics():
                getattr(self, attribute)

    @property
    def created(self) -> frozenset[str]:
        """The catalogue names of the metrics created so far."""
        made = vars(self)
        return frozenset(lazy.metric.name for a, lazy in _lazy_metrics().items() if a in made)

    def _create(self, attribute: str, metric: Metric, kind: type[_M]) -> _M:
        # the span ledger records from the export thread: one creation per metric
        with self._lock:
            found = vars(self).get(attribute)  # made by another thread meanwhile
            if found is None:
                if metric.owner != "worker" or metric.exemplars:
                    raise ValueError(f"{metric.name} is not recorded by WorkerMetrics")
                found = build_metric(metric, self._registry)
                setattr(self, attribute, found)
        if not isinstance(found, kind):
            raise TypeError(f"{metric.name} is a {metric.type}")
        return found

    def initialize_series(self, participant_kinds: Iterable[str]) -> None:
        """Create the labelled series a dashboard or an alert reads at 0, so that they exist
        before the first event (and, for the live gauge, between jobs)."""
        for reason in sorted(JOB_FAILURE_REASONS):
            self._jobs_failed.labels(reason)
        for reason in sorted(SPAN_LOSS_REASONS):
            self._spans_dropped.labels(reason)
        for kind in participant_kinds:
            self._participants.labels(kind).set(0)

    def initialize_voice_series(self, models: VoiceModels) -> None:
        """Create every voice series at 0 for the worker's providers and models, so that the
        series count is the same after one session or many (and rate() sees the first turn)."""
        for stage in VOICE_STAGES:
            for reason in VOICE_LATENCY_REASONS:
                self._voice_invalid.labels(stage, reason)
        for outcome in VOICE_TURN_OUTCOMES:
            self._voice_turns.labels(outcome)
        for resumed in ("true", "false"):
            self._voice_false.labels(resumed)
        for outcome in ("ok", "error"):
            self._voice_tools.labels(outcome)
        for token_type in VOICE_LLM_TOKEN_TYPES:
            self._voice_tokens.labels(*models.llm, token_type)
        self._voice_tts_chars.labels(*models.tts)
        self._voice_tts_audio.labels(*models.tts)
        self._voice_stt_audio.labels(*models.stt)
        chat = (_CHAT, *models.llm)
        self._gen_ai_ttfc.labels(*chat)
        self._gen_ai_duration.labels(*chat)
        for token_type in ("input", "output"):
            self._gen_ai_tokens.labels(*chat, token_type)
        for provider, _model in models:
            for kind in VOICE_ERROR_KINDS:
                self._voice_errors.labels(provider, kind)

    def voice_session_started(self) -> None:
        """Count a voice session in the running gauge."""
        self._voice_sessions.inc()

    def voice_session_ended(self) -> None:
        """Remove a voice session from the running gauge."""
        self._voice_sessions.dec()

    def voice_latency_invalid(self, stage: str, reason: str) -> None:
        """Count a stage latency that cannot be right (``negative`` or ``over_60s``)."""
        self._voice_invalid.labels(stage, reason).inc()

    def voice_turn(self, *, interrupted: bool) -> None:
        """Count an agent turn committed to the conversation."""
        self._voice_turns.labels("interrupted" if interrupted else "completed").inc()

    def voice_false_interruption(self, *, resumed: bool) -> None:
        """Count an interruption the SDK judged false."""
        self._voice_false.labels("true" if resumed else "false").inc()

    def voice_tool_call(self, seconds: float, *, ok: bool) -> None:
        """Record a tool call's duration."""
        self._voice_tools.labels("ok" if ok else "error").observe(seconds)

    def voice_llm_request(
        self,
        provider: str,
        model: str,
        *,
        tokens: tuple[int, int, int],
        ttft: float | None,
        duration: float,
    ) -> None:
        """Record one LLM request: ``tokens`` is (input, cached input, output); ``ttft`` None
        when no token came."""
        for token_type, count in zip(VOICE_LLM_TOKEN_TYPES, tokens, strict=True):
            self._voice_tokens.labels(provider, model, token_type).inc(count)
        labels = (_CHAT, provider, model)
        self._gen_ai_tokens.labels(*labels, "input").observe(tokens[0])
        self._gen_ai_tokens.labels(*labels, "output").observe(tokens[2])
        self._gen_ai_duration.labels(*labels).observe(duration)
        if ttft is not None:
            self._gen_ai_ttfc.labels(*labels).observe(ttft)

    def voice_tts_usage(self, provider: str, model: str, characters: int, seconds: float) -> None:
        """Count the characters a TTS request synthesized and the audio it returned."""
        self._voice_tts_chars.labels(provider, model).inc(characters)
        self._voice_tts_audio.labels(provider, model).inc(seconds)

    def voice_stt_usage(self, provider: str, model: str, seconds: float) -> None:
        """Count the audio sent to the STT provider."""
        self._voice_stt_audio.labels(provider, model).inc(seconds)

    def voice_provider_error(self, provider: str, kind: str) -> None:
        """Count a failed provider request; ``kind`` must be one of ``VOICE_ERROR_KINDS``."""
        if kind not in VOICE_ERROR_KINDS:
            raise ValueError(f"unknown provider error kind: {kind!r}")
        self._voice_errors.labels(provider, kind).inc()

    def build_info(self, *, version: str, sdk_version: str, agent_name: str) -> None:
        """Publish the running versions (a constant 1 with version labels)."""
        self._build_info.labels(version, sdk_version, agent_name).set(1)

    def registration_changed(self, registered: bool) -> None:
        """Record whether the worker is registered with the LiveKit server."""
        self._registered.set(1 if registered else 0)

    def reconnected(self) -> None:
        """Count a registration that followed a lost connection."""
        self._reconnects.inc()

    def job_received(self) -> None:
        """Count a job request from the server."""
        self._jobs_received.inc()

    def job_accepted(self) -> None:
        """Count a job request this worker accepted."""
        self._jobs_accepted.inc()

    def job_failed(self, reason: str) -> None:
        """Count a failed job; ``reason`` must be one of ``JOB_FAILURE_REASONS``."""
        if reason not in JOB_FAILURE_REASONS:
            raise ValueError(f"unknown job failure reason: {reason!r}")
        self._jobs_failed.labels(reason).inc()

    def room_connected(self, seconds: float) -> None:
        """Record how long connecting to the room took."""
        self._connect.observe(seconds)

    def participant_joined(self, kind: str) -> None:
        """Count a remote participant joining and add it to the active gauge."""
        self._joined.labels(kind).inc()
        self._participants.labels(kind).inc()

    def participant_left(self, kind: str, reason: str) -> None:
        """Count a remote participant leaving and remove it from the active gauge."""
        self._left.labels(kind, reason).inc()
        self._participants.labels(kind).dec()

    def track_published(self, source: str, kind: str) -> None:
        """Count a track a remote participant published."""
        self._published.labels(source, kind).inc()

    def track_unpublished(self, source: str, kind: str) -> None:
        """Count a track a remote participant unpublished."""
        self._unpublished.labels(source, kind).inc()

    def room_disconnected(self, reason: str) -> None:
        """Count a job's room disconnecting."""
        self._disconnections.labels(reason).inc()

    def prewarm_finished(self, seconds: float) -> None:
        """Record the time a job process spent in prewarm."""
        self._prewarm.observe(seconds)

    # span accounting (telemetry.span_ledger.SpanLedger calls these)

    def span_export_failed(self) -> None:
        """Count an export batch that did not deliver its spans."""
        self._export_failures.inc()

    def spans_lost(self, spans: int, reason: str) -> None:
        """Count spans lost; ``reason`` must be one of ``SPAN_LOSS_REASONS``."""
        if reason not in SPAN_LOSS_REASONS:
            raise ValueError(f"unknown span loss reason: {reason!r}")
        self._spans_dropped.labels(reason).inc(spans)

    def spans_ended(self, spans: int) -> None:
        """Count sampled spans that ended."""
        self._spans_ended.inc(spans)

    def spans_exported(self, spans: int) -> None:
        """Count spans the OTLP endpoint accepted."""
        self._spans_exported.inc(spans)

    def spans_relayed(self, spans: int) -> None:
        """Count spans the main process received from job processes, to export them."""
        self._spans_relayed.inc(spans)

    def loop_lag(self, process: str, seconds: float) -> None:
        """Record how late the event loop of a ``main`` or ``job`` process ran a timer."""
        self._loop_lag.labels(process).observe(seconds)


def _lazy_metrics() -> dict[str, _Lazy[Counter] | _Lazy[Gauge] | _Lazy[Histogram]]:
    """The metrics of :class:`WorkerMetrics`, by attribute."""
    return {name: v for name, v in vars(WorkerMetrics).items() if isinstance(v, _Lazy)}


class _Default:
    instance: WorkerMetrics | None = None
    lock = threading.Lock()


def get_metrics(factory: Callable[[], WorkerMetrics] = WorkerMetrics) -> WorkerMetrics:
    """The process-wide metrics on the default registry, created on first use.

    Creating them lazily matters in multiprocess mode: an unlabelled metric opens its
    process's file as soon as it exists, and the SDK empties the multiprocess directory
    when the worker starts, so the main process must not create them before that.
    """
    with _Default.lock:
        if _Default.instance is None:
            _Default.instance = factory()
        return _Default.instance
