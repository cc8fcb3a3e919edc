"""Every metric the worker's ``/metrics`` exposes, declared once: name, type, help, labels.

``telemetry.metrics`` and ``telemetry.exemplars`` build their prometheus_client objects from
these declarations; the dashboards, the Prometheus rules and the README's metric table are
generated from them (``python -m devtools.observability``), and tests check that nothing
names a metric missing here and that every metric here is shown somewhere.

Adding a metric: declare it below, add it to ``METRICS``, and record it through a verb
method of ``WorkerMetrics`` (or, for an exemplar histogram, ``ExemplarHistograms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACTIVE_PARTICIPANTS",
    "BUILD_INFO",
    "DISPATCH_LATENCY",
    "EVENT_LOOP_LAG",
    "JOBS_ACCEPTED",
    "JOBS_FAILED",
    "JOBS_RECEIVED",
    "JOB_DURATION",
    "JOB_FAILURE_REASONS",
    "METRICS",
    "PARTICIPANTS_JOINED",
    "PARTICIPANTS_LEFT",
    "PREFIX",
    "PREWARM_DURATION",
    "RECONNECTS",
    "REGISTERED",
    "ROOM_CONNECT_DURATION",
    "ROOM_DISCONNECTIONS",
    "SDK_ACTIVE_JOBS",
    "SDK_CHILD_PROCESSES",
    "SDK_PROC_INITIALIZE",
    "SDK_WORKER_LOAD",
    "SPANS_DROPPED",
    "SPANS_ENDED",
    "SPANS_EXPORTED",
    "SPANS_RELAYED",
    "SPAN_LOSS_REASONS",
    "SPAN_EXPORT_FAILURES",
    "TRACKS_PUBLISHED",
    "TRACKS_UNPUBLISHED",
    "VOICE_COMPONENTS",
    "VOICE_ERROR_KINDS",
    "VOICE_FALSE_INTERRUPTIONS",
    "VOICE_LATENCY_REASONS",
    "VOICE_LLM_TOKENS",
    "VOICE_LLM_TOKEN_TYPES",
    "VOICE_OPERATION_DURATION",
    "VOICE_PROVIDER_ERRORS",
    "VOICE_SESSIONS_ACTIVE",
    "VOICE_STAGES",
    "VOICE_STT_AUDIO",
    "VOICE_TIME_TO_FIRST_CHUNK",
    "VOICE_TOKEN_USAGE",
    "VOICE_TOOL_CALL_DURATION",
    "VOICE_TTS_AUDIO",
    "VOICE_TTS_CHARACTERS",
    "VOICE_TURNS",
    "VOICE_TURN_LATENCY",
    "VOICE_TURN_OUTCOMES",
    "VOICE_INVALID_LATENCY",
    "Metric",
    "by_name",
]

PREFIX = "agent_worker"

MetricType = Literal["counter", "gauge", "histogram"]
MultiprocessMode = Literal["all", "liveall", "livesum", "livemax", "max", "sum"]

_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

JOB_FAILURE_REASONS = ("entrypoint_error", "handler_error", "process_exited")
# queue_full: the export queue was full; export_failed: the exporter reported the batch
# failed; export_timeout: the batch was still being exported when the exit flush gave up;
# shutdown: queued, or ended, after the processor stopped exporting; handoff_failed: a job
# process could not hand its spans to the main process; relay_queue_full: the main
# process's span relay queue was full
SPAN_LOSS_REASONS = (
    "queue_full",
    "export_failed",
    "export_timeout",
    "shutdown",
    "handoff_failed",
    "relay_queue_full",
)


@dataclass(frozen=True)
class Metric:
    """One metric family as ``/metrics`` exposes it.

    Attributes:
        name: the family name (counters without their ``_total`` suffix).
        type: counter, gauge or histogram.
        help: the HELP text; ends with a period.
        summary: the README table's short meaning.
        labels: label names, in the order the verb methods pass their values.
        label_values: the closed value sets worth listing in the README, per label.
        buckets: a histogram's finite upper bounds.
        multiprocess_mode: how prometheus_client aggregates a gauge across processes.
        exemplars: observations carry ``trace_id`` exemplars (main-process histograms).
        owner: ``worker`` for the project's metrics, ``sdk`` for livekit-agents' own.
        observed_in: the process(es) that record it: ``main``, ``job`` or ``both``.
        convention: the name and labels are the OpenTelemetry GenAI semantic conventions'
            (in their Prometheus form), not the project's.
    """

    name: str
    type: MetricType
    help: str
    summary: str
    labels: tuple[str, ...] = ()
    label_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    buckets: tuple[float, ...] = ()
    multiprocess_mode: MultiprocessMode = "all"
    exemplars: bool = False
    owner: Literal["worker", "sdk"] = "worker"
    observed_in: Literal["main", "job", "both"] = "main"
    convention: bool = False

    @property
    def exposed(self) -> str:
        """The name a query uses: ``_total`` added to counters."""
        return f"{self.name}_total" if self.type == "counter" else self.name

    @property
    def bucket(self) -> str:
        """A histogram's ``_bucket`` series."""
        return f"{self.name}_bucket"

    @property
    def series_names(self) -> frozenset[str]:
        """Every series name Prometheus stores for this family."""
        if self.type == "histogram":
            return frozenset({self.name, *(self.name + s for s in _HISTOGRAM_SUFFIXES)})
        return frozenset({self.exposed})


BUILD_INFO = Metric(
    f"{PREFIX}_build_info",
    "gauge",
    "Project and livekit-agents versions of the running worker; always 1.",
    "always 1",
    labels=("version", "sdk_version", "agent_name"),
    multiprocess_mode="livemax",
)
REGISTERED = Metric(
    f"{PREFIX}_registered",
    "gauge",
    "1 while the worker is registered with the LiveKit server, else 0.",
    "1 while registered with LiveKit",
    multiprocess_mode="livemax",
)
RECONNECTS = Metric(
    f"{PREFIX}_reconnects",
    "counter",
    "Registrations with the LiveKit server after the first one.",
    "registrations after a lost connection",
)
JOBS_RECEIVED = Metric(
    f"{PREFIX}_jobs_received",
    "counter",
    "Job requests received from the LiveKit server.",
    "job requests received",
)
JOBS_ACCEPTED = Metric(
    f"{PREFIX}_jobs_accepted",
    "counter",
    "Job requests this worker accepted.",
    "job requests accepted",
)
JOBS_FAILED = Metric(
    f"{PREFIX}_jobs_failed",
    "counter",
    "Jobs that failed, by reason (entrypoint_error, handler_error, process_exited).",
    "failed jobs",
    labels=("reason",),
    label_values=(("reason", JOB_FAILURE_REASONS),),
    observed_in="both",
)
JOB_DURATION = Metric(
    f"{PREFIX}_job_duration_seconds",
    "histogram",
    "Time a job ran, from the job request to the job's end; exemplars link to the job's trace.",
    "job request → job end; `trace_id` exemplars",
    buckets=(1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
    exemplars=True,
    observed_in="job",
)
DISPATCH_LATENCY = Metric(
    f"{PREFIX}_dispatch_latency_seconds",
    "histogram",
    "Time from the worker receiving a job request to the job's room being connected; "
    "exemplars link to the job's trace.",
    "job request → room connected; `trace_id` exemplars",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
    exemplars=True,
    observed_in="job",
)
ROOM_CONNECT_DURATION = Metric(
    f"{PREFIX}_room_connect_duration_seconds",
    "histogram",
    "Time a job took to connect to its room.",
    "time to connect to the room",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    observed_in="job",
)
ACTIVE_PARTICIPANTS = Metric(
    f"{PREFIX}_active_participants",
    "gauge",
    "Remote participants currently in the rooms this worker serves.",
    "remote participants in served rooms",
    labels=("kind",),
    multiprocess_mode="livesum",
    observed_in="job",
)
PARTICIPANTS_JOINED = Metric(
    f"{PREFIX}_participants_joined",
    "counter",
    "Remote participants that joined a room served by this worker.",
    "participants that joined",
    labels=("kind",),
    observed_in="job",
)
PARTICIPANTS_LEFT = Metric(
    f"{PREFIX}_participants_left",
    "counter",
    "Remote participants that left, by disconnect reason.",
    "participants that left, by disconnect reason",
    labels=("kind", "reason"),
    observed_in="job",
)
TRACKS_PUBLISHED = Metric(
    f"{PREFIX}_tracks_published",
    "counter",
    "Tracks remote participants published, by source and kind.",
    "tracks published (microphone, camera, screen_share, …)",
    labels=("source", "kind"),
    observed_in="job",
)
TRACKS_UNPUBLISHED = Metric(
    f"{PREFIX}_tracks_unpublished",
    "counter",
    "Tracks remote participants unpublished, by source and kind.",
    "tracks unpublished",
    labels=("source", "kind"),
    observed_in="job",
)
ROOM_DISCONNECTIONS = Metric(
    f"{PREFIX}_room_disconnections",
    "counter",
    "Rooms a job was disconnected from, by reason.",
    "rooms a job was disconnected from",
    labels=("reason",),
    observed_in="job",
)
PREWARM_DURATION = Metric(
    f"{PREFIX}_prewarm_duration_seconds",
    "histogram",
    "Time a job process spent in prewarm (loading models) before it was ready.",
    "time a job process spent in prewarm",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
    observed_in="job",
)
# span accounting, across the processes: ended = exported + dropped (all reasons); job
# processes hand their spans to the main process, which exports them (telemetry.relay)
SPANS_ENDED = Metric(
    f"{PREFIX}_spans_ended",
    "counter",
    "Sampled spans that ended, each then exported or dropped.",
    "sampled spans that ended (= exported + dropped)",
    observed_in="job",
)
SPANS_EXPORTED = Metric(
    f"{PREFIX}_spans_exported",
    "counter",
    "Spans the OTLP endpoint accepted.",
    "spans the OTLP endpoint accepted",
    observed_in="both",
)
SPANS_RELAYED = Metric(
    f"{PREFIX}_spans_relayed",
    "counter",
    "Spans the main process received from job processes, to export them.",
    "spans job processes handed to the main process",
    observed_in="main",
)
SPAN_EXPORT_FAILURES = Metric(
    f"{PREFIX}_span_export_failures",
    "counter",
    "Span export batches not delivered: failed, or unfinished when a process exited.",
    "span batches not delivered",
    observed_in="both",
)
SPANS_DROPPED = Metric(
    f"{PREFIX}_spans_dropped",
    "counter",
    "Spans lost, by reason (queue_full, export_failed, export_timeout, shutdown, "
    "handoff_failed, relay_queue_full).",
    "spans lost, by reason",
    labels=("reason",),
    label_values=(("reason", SPAN_LOSS_REASONS),),
    observed_in="both",
)
EVENT_LOOP_LAG = Metric(
    f"{PREFIX}_event_loop_lag_seconds",
    "histogram",
    "How late the event loop ran a timer, sampled periodically, by process type.",
    "how late the event loop ran a timer",
    labels=("process",),
    label_values=(("process", ("main", "job")),),
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    observed_in="both",
)

# --- the voice pipeline (recorded in job processes from the SDK's events) ------------------
VOICE_STAGES = ("end_to_end", "end_of_turn", "transcription", "llm_ttft", "tts_ttfb")
VOICE_TURN_OUTCOMES = ("completed", "interrupted")
VOICE_COMPONENTS = ("stt", "llm", "tts")
VOICE_ERROR_KINDS = (
    "auth",
    "rate_limit",
    "client_error",
    "server_error",
    "timeout",
    "connection",
    "dropped",
    "other",
)
VOICE_LLM_TOKEN_TYPES = ("input", "cached_input", "output")
VOICE_LATENCY_REASONS = ("negative", "over_60s")
# the OpenTelemetry GenAI conventions' bucket boundaries (gen_ai.client.* metrics)
_GEN_AI_SECONDS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
_GEN_AI_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
_GEN_AI_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")

VOICE_TURN_LATENCY = Metric(
    f"{PREFIX}_voice_turn_latency_seconds",
    "histogram",
    "Per-turn latency of each voice pipeline stage, as the SDK reports the turn; "
    "exemplars link to the room's trace.",
    "per-turn stage latency (`end_to_end`: user stops speaking → agent audio starts); "
    "`trace_id` exemplars",
    labels=("stage",),
    label_values=(("stage", VOICE_STAGES),),
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
    exemplars=True,
    observed_in="job",
)
VOICE_INVALID_LATENCY = Metric(
    f"{PREFIX}_voice_invalid_latency",
    "counter",
    "Stage latencies the SDK reported that cannot be right (negative, or over 60 s); "
    "they are not observed in the latency histogram.",
    "impossible stage latencies, not observed",
    labels=("stage", "reason"),
    label_values=(("stage", VOICE_STAGES), ("reason", VOICE_LATENCY_REASONS)),
    observed_in="job",
)
VOICE_TURNS = Metric(
    f"{PREFIX}_voice_turns",
    "counter",
    "Agent turns (replies) committed to the conversation, by outcome.",
    "agent turns; `interrupted`: the user spoke over the agent",
    labels=("outcome",),
    label_values=(("outcome", VOICE_TURN_OUTCOMES),),
    observed_in="job",
)
VOICE_FALSE_INTERRUPTIONS = Metric(
    f"{PREFIX}_voice_false_interruptions",
    "counter",
    "Interruptions the SDK judged false (noise, no words), by whether the reply resumed.",
    "false interruptions",
    labels=("resumed",),
    label_values=(("resumed", ("true", "false")),),
    observed_in="job",
)
VOICE_TOOL_CALL_DURATION = Metric(
    f"{PREFIX}_voice_tool_call_duration_seconds",
    "histogram",
    "Time from a tool call's creation to its output, by outcome.",
    "function tool call → its output",
    labels=("outcome",),
    label_values=(("outcome", ("ok", "error")),),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    observed_in="job",
)
VOICE_LLM_TOKENS = Metric(
    f"{PREFIX}_voice_llm_tokens",
    "counter",
    "LLM tokens the provider reported, by type (cached_input is part of input).",
    "LLM tokens",
    labels=("provider", "model", "type"),
    label_values=(("type", VOICE_LLM_TOKEN_TYPES),),
    observed_in="job",
)
VOICE_TTS_CHARACTERS = Metric(
    f"{PREFIX}_voice_tts_characters",
    "counter",
    "Characters sent to the TTS provider for synthesis.",
    "TTS characters synthesized",
    labels=("provider", "model"),
    observed_in="job",
)
VOICE_TTS_AUDIO = Metric(
    f"{PREFIX}_voice_tts_audio_seconds",
    "counter",
    "Seconds of audio the TTS provider synthesized.",
    "TTS audio seconds",
    labels=("provider", "model"),
    observed_in="job",
)
VOICE_STT_AUDIO = Metric(
    f"{PREFIX}_voice_stt_audio_seconds",
    "counter",
    "Seconds of audio sent to the STT provider.",
    "STT audio seconds",
    labels=("provider", "model"),
    observed_in="job",
)
VOICE_PROVIDER_ERRORS = Metric(
    f"{PREFIX}_voice_provider_errors",
    "counter",
    "Failed provider requests (each attempt), by provider and kind of failure.",
    "provider failures",
    labels=("provider", "kind"),
    label_values=(("kind", VOICE_ERROR_KINDS),),
    observed_in="job",
)
VOICE_SESSIONS_ACTIVE = Metric(
    f"{PREFIX}_voice_sessions_active",
    "gauge",
    "Voice sessions (AgentSession) currently running.",
    "running voice sessions",
    multiprocess_mode="livesum",
    observed_in="job",
)
VOICE_TIME_TO_FIRST_CHUNK = Metric(
    "gen_ai_client_operation_time_to_first_chunk_seconds",
    "histogram",
    "Time to receive the first chunk of a streamed GenAI response.",
    "GenAI convention: LLM request → first chunk",
    labels=_GEN_AI_LABELS,
    label_values=(("gen_ai_operation_name", ("chat",)),),
    buckets=_GEN_AI_SECONDS,
    observed_in="job",
    convention=True,
)
VOICE_OPERATION_DURATION = Metric(
    "gen_ai_client_operation_duration_seconds",
    "histogram",
    "GenAI operation duration.",
    "GenAI convention: LLM request duration",
    labels=_GEN_AI_LABELS,
    label_values=(("gen_ai_operation_name", ("chat",)),),
    buckets=_GEN_AI_SECONDS,
    observed_in="job",
    convention=True,
)
VOICE_TOKEN_USAGE = Metric(
    "gen_ai_client_token_usage",
    "histogram",
    "Number of input and output tokens used.",
    "GenAI convention: tokens per LLM request",
    labels=(*_GEN_AI_LABELS, "gen_ai_token_type"),
    label_values=(("gen_ai_token_type", ("input", "output")),),
    buckets=_GEN_AI_TOKENS,
    observed_in="job",
    convention=True,
)

# livekit-agents' own metrics (livekit/agents/telemetry/metrics.py), as the worker exposes
# them: the two ``_count`` gauges are renamed by ``telemetry.exposition.SDK_RENAMES``.
SDK_ACTIVE_JOBS = Metric(
    "lk_agents_active_jobs",
    "gauge",
    "Active jobs",
    "SDK: running jobs (the SDK names it `lk_agents_active_job_count`)",
    labels=("nodename",),
    multiprocess_mode="livesum",
    owner="sdk",
)
SDK_CHILD_PROCESSES = Metric(
    "lk_agents_child_processes",
    "gauge",
    "Total number of child processes",
    "SDK: child processes (SDK: `lk_agents_child_process_count`)",
    labels=("nodename",),
    multiprocess_mode="max",
    owner="sdk",
)
SDK_WORKER_LOAD = Metric(
    "lk_agents_worker_load",
    "gauge",
    "Worker load percentage",
    "SDK: load, 0\u20131",
    labels=("nodename", "pid"),
    owner="sdk",
)
SDK_PROC_INITIALIZE = Metric(
    "lk_agents_proc_initialize_duration_seconds",
    "histogram",
    "Time taken to initialize a process",
    "SDK: process initialization time",
    labels=("nodename",),
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0),
    owner="sdk",
    observed_in="job",
)

METRICS: tuple[Metric, ...] = (
    BUILD_INFO,
    REGISTERED,
    RECONNECTS,
    JOBS_RECEIVED,
    JOBS_ACCEPTED,
    JOBS_FAILED,
    JOB_DURATION,
    DISPATCH_LATENCY,
    ROOM_CONNECT_DURATION,
    ACTIVE_PARTICIPANTS,
    PARTICIPANTS_JOINED,
    PARTICIPANTS_LEFT,
    TRACKS_PUBLISHED,
    TRACKS_UNPUBLISHED,
    ROOM_DISCONNECTIONS,
    PREWARM_DURATION,
    SPANS_ENDED,
    SPANS_EXPORTED,
    SPANS_RELAYED,
    SPAN_EXPORT_FAILURES,
    SPANS_DROPPED,
    EVENT_LOOP_LAG,
    VOICE_SESSIONS_ACTIVE,
    VOICE_TURN_LATENCY,
    VOICE_INVALID_LATENCY,
    VOICE_TURNS,
    VOICE_FALSE_INTERRUPTIONS,
    VOICE_TOOL_CALL_DURATION,
    VOICE_LLM_TOKENS,
    VOICE_TTS_CHARACTERS,
    VOICE_TTS_AUDIO,
    VOICE_STT_AUDIO,
    VOICE_PROVIDER_ERRORS,
    VOICE_TIME_TO_FIRST_CHUNK,
    VOICE_OPERATION_DURATION,
    VOICE_TOKEN_USAGE,
    SDK_ACTIVE_JOBS,
    SDK_CHILD_PROCESSES,
    SDK_WORKER_LOAD,
    SDK_PROC_INITIALIZE,
)
"""Every metric, in the README table's order."""


def by_name(name: str) -> Metric:
    """The metric whose family or series is ``name`` (``KeyError`` when there is none)."""
    for metric in METRICS:
        if name == metric.name or name in metric.series_names:
            return metric
    raise KeyError(name)
