"""Every Prometheus metric of the project, and the verbs the rest of the code calls.

Names follow ``agent_worker_<noun>_<unit>``; every histogram has explicit buckets and every
label a closed set of values (``telemetry.labels``): room names, sids and identities belong
to traces and logs, never to labels.

Job processes record into prometheus_client's multiprocess files and the main process
serves them aggregated (``telemetry.exposition``). Two histograms are the exception: the
dispatch latency and the job duration carry ``trace_id`` exemplars, which the multiprocess
mode cannot store, so a job process reports those observations to the main process
(``telemetry.exemplars``), which owns them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from . import span_ledger

__all__ = [
    "DISPATCH_LATENCY_BUCKETS",
    "JOB_DURATION_BUCKETS",
    "PREFIX",
    "WorkerMetrics",
    "get_metrics",
    "reset_default_metrics",
]

PREFIX = "agent_worker"

DISPATCH_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
JOB_DURATION_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_CONNECT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_PREWARM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
_LOOP_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

JOB_FAILURE_REASONS = frozenset({"entrypoint_error", "handler_error", "process_exited"})
SPAN_LOSS_REASONS = frozenset(span_ledger.SPAN_LOSS_REASONS)


class WorkerMetrics:
    """The project's metrics on one registry, recorded through verb methods.

    Args:
        registry: where the metrics are registered; tests pass a fresh one.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        p = PREFIX
        self._build_info = Gauge(
            f"{p}_build_info",
            "Project and livekit-agents versions of the running worker; always 1.",
            ["version", "sdk_version", "agent_name"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._registered = Gauge(
            f"{p}_registered",
            "1 while the worker is registered with the LiveKit server, else 0.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._reconnects = Counter(
            f"{p}_reconnects",
            "Registrations with the LiveKit server after the first one.",
            registry=registry,
        )
        self._jobs_received = Counter(
            f"{p}_jobs_received",
            "Job requests received from the LiveKit server.",
            registry=registry,
        )
        self._jobs_accepted = Counter(
            f"{p}_jobs_accepted", "Job requests this worker accepted.", registry=registry
        )
        self._jobs_failed = Counter(
            f"{p}_jobs_failed",
            "Jobs that failed, by reason (entrypoint_error, handler_error, process_exited).",
            ["reason"],
            registry=registry,
        )
        self._connect = Histogram(
            f"{p}_room_connect_duration_seconds",
            "Time a job took to connect to its room.",
            buckets=_CONNECT_BUCKETS,
            registry=registry,
        )
        self._participants = Gauge(
            f"{p}_active_participants",
            "Remote participants currently in the rooms this worker serves.",
            ["kind"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._joined = Counter(
            f"{p}_participants_joined",
            "Remote participants that joined a room served by this worker.",
            ["kind"],
            registry=registry,
        )
        self._left = Counter(
            f"{p}_participants_left",
            "Remote participants that left, by disconnect reason.",
            ["kind", "reason"],
            registry=registry,
        )
        self._published = Counter(
            f"{p}_tracks_published",
            "Tracks remote participants published, by source and kind.",
            ["source", "kind"],
            registry=registry,
        )
        self._unpublished = Counter(
            f"{p}_tracks_unpublished",
            "Tracks remote participants unpublished, by source and kind.",
            ["source", "kind"],
            registry=registry,
        )
        self._disconnections = Counter(
            f"{p}_room_disconnections",
            "Rooms a job was disconnected from, by reason.",
            ["reason"],
            registry=registry,
        )
        self._prewarm = Histogram(
            f"{p}_prewarm_duration_seconds",
            "Time a job process spent in prewarm (loading models) before it was ready.",
            buckets=_PREWARM_BUCKETS,
            registry=registry,
        )
        # span accounting: ended = exported + dropped (all reasons), per job process
        self._export_failures = Counter(
            f"{p}_span_export_failures",
            "Span export batches not delivered: failed, or unfinished when a process exited.",
            registry=registry,
        )
        self._spans_dropped = Counter(
            f"{p}_spans_dropped",
            "Spans lost, by reason (queue_full, export_failed, export_timeout, shutdown).",
            ["reason"],
            registry=registry,
        )
        self._spans_ended = Counter(
            f"{p}_spans_ended",
            "Sampled spans that ended, each then exported or dropped.",
            registry=registry,
        )
        self._spans_exported = Counter(
            f"{p}_spans_exported",
            "Spans the OTLP endpoint accepted.",
            registry=registry,
        )
        self._loop_lag = Histogram(
            f"{p}_event_loop_lag_seconds",
            "How late the event loop ran a timer, sampled periodically, by process type.",
            ["process"],
            buckets=_LOOP_LAG_BUCKETS,
            registry=registry,
        )

    def initialize_series(self, participant_kinds: Iterable[str]) -> None:
        """Create the labelled series a dashboard or an alert reads at 0, so that they exist
        before the first event (and, for the live gauge, between jobs)."""
        for reason in sorted(JOB_FAILURE_REASONS):
            self._jobs_failed.labels(reason)
        for reason in sorted(SPAN_LOSS_REASONS):
            self._spans_dropped.labels(reason)
        for kind in participant_kinds:
            self._participants.labels(kind).set(0)

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

    def loop_lag(self, process: str, seconds: float) -> None:
        """Record how late the event loop of a ``main`` or ``job`` process ran a timer."""
        self._loop_lag.labels(process).observe(seconds)


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


def reset_default_metrics() -> None:
    """Forget the process-wide instance (tests that swap the default registry)."""
    with _Default.lock:
        _Default.instance = None
