"""What a job process sets up around the entrypoint: tracing, log context, room telemetry.

Job processes are single-use: the SDK starts one from its pool, runs prewarm in it, hands
it one job, and lets it exit when the job ends. So the process's tracer provider is created
in prewarm (:func:`prepare_job_process`) and flushed when the process exits, and
:class:`JobRuntime` holds what one job opened, to be released exactly once when the room
disconnects or the job shuts down, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import warnings

from jwt.warnings import InsecureKeyLengthWarning
from livekit import api
from livekit.agents import JobContext, JobProcess
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from telemetry import tracing
from telemetry.exemplars import DISPATCH_LATENCY, JOB_DURATION, ObservationReporter
from telemetry.handoff import SPANS_SOCKET
from telemetry.logcontext import install_trace_context_filter
from telemetry.loop_lag import monitor_loop_lag
from telemetry.metrics import WorkerMetrics, get_metrics
from telemetry.propagation import DispatchIdGenerator, link_to_dispatch
from telemetry.room import RoomObserver

from .departure import DepartureWatch, people_listed
from .handlers import RoomHandlers
from .log_messages import JOB_SHUTTING_DOWN
from .server import OBSERVATIONS_SOCKET
from .settings import RuntimeSettings

__all__ = ["JobRuntime", "prepare_job_process"]

logger = logging.getLogger(__name__)

TRACING_KEY = "tracing"
# a job process must finish exporting well inside the SDK's shutdown_process_timeout
_EXIT_FLUSH_SECONDS = 4.0


def prepare_job_process(proc: JobProcess, settings: RuntimeSettings, version: str) -> None:
    """Give this job process its own tracer provider, flushed when the process exits."""
    _route_warnings(dev_credentials=settings.uses_dev_credentials)
    # this process records a third of the metrics: each is made on its first use
    metrics = get_metrics(functools.partial(WorkerMetrics, lazy=True))
    # OTLP export is the main process's (one long-lived session); this process hands its
    # spans over to it. The console exporter stays local: it writes to this process's stdout.
    relayed = settings.OTEL_TRACES_EXPORTER == "otlp"
    proc.userdata[TRACING_KEY] = tracing.setup_tracing(
        resource=tracing.build_resource(
            service_version=version, environment=settings.DEPLOYMENT_ENVIRONMENT
        ),
        exporter=(
            None
            if relayed
            else tracing.create_span_exporter(
                settings.OTEL_TRACES_EXPORTER, settings.traces_protocol
            )
        ),
        handoff_to=settings.metrics_dir / SPANS_SOCKET if relayed else None,
        span_counts=metrics,
        allow_pii=settings.ALLOW_PII,
        id_generator=DispatchIdGenerator(),
        attribute_length_limit=settings.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        flush_at_exit_seconds=_EXIT_FLUSH_SECONDS,
    )


def _route_warnings(*, dev_credentials: bool) -> None:
    # library warnings become log lines, as in the main process, instead of raw stderr
    logging.captureWarnings(True)
    if dev_credentials:
        # the room check signs an API token; the main process already warned about the key.
        # By category, not message: a message filter compiles its pattern in every process
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


def _tracer(ctx: JobContext) -> trace.Tracer:
    setup = ctx.proc.userdata.get(TRACING_KEY)
    provider = setup.provider if isinstance(setup, tracing.Tracing) else None
    return trace.get_tracer(__name__, tracer_provider=provider)


def _room_label(ctx: JobContext, allow_pii: bool) -> str:
    return ctx.job.room.name if allow_pii else ctx.job.room.sid


class JobRuntime:
    """The telemetry and handlers of one running job.

    Args:
        ctx: the job's context.
        settings: the worker's settings.
    """

    def __init__(self, ctx: JobContext, settings: RuntimeSettings) -> None:
        self.ctx = ctx
        self.room_label = _room_label(ctx, settings.ALLOW_PII)
        self._allow_pii = settings.ALLOW_PII
        self._departure_timeout = settings.AGENT_DEPARTURE_TIMEOUT
        self._metrics = get_metrics()
        self._reporter = ObservationReporter(settings.metrics_dir / OBSERVATIONS_SOCKET)
        # inside the entrypoint the SDK's `job_entrypoint` root span is current
        self.root = trace.get_current_span()
        self.observer = RoomObserver(self.root, _tracer(ctx), self._metrics)
        self._handlers: RoomHandlers | None = None
        self._departure: DepartureWatch | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._finished = False

    def start(self) -> None:
        """Tag the job's log lines and trace, before anything is logged for it."""
        self.ctx.log_context_fields = {"room": self.room_label, "job_id": self.ctx.job.id}
        install_trace_context_filter(fallback=self.root)
        if link_to_dispatch(self.root, self.ctx.job.metadata):
            logger.debug("Job trace continues the dispatcher's trace")
        self._lag_task = asyncio.create_task(
            monitor_loop_lag(lambda lag: self._metrics.loop_lag("job", lag)), name="loop_lag"
        )
        setup = self.ctx.proc.userdata.get(TRACING_KEY)
        if isinstance(setup, tracing.Tracing):
            # the exit flush starts as the job's root span ends, while logs still reach
            # the worker; the process exits within the same bound as before
            setup.shutdown_when_ended(self.root, _EXIT_FLUSH_SECONDS)

    def connected(self, connect_seconds: float) -> None:
        """Record the connection, and start handling the room's events."""
        self.observer.room_connected(connect_seconds)
        self._report(DISPATCH_LATENCY)
        self._handlers = RoomHandlers(
            self.ctx.room, self.observer, allow_pii=self._allow_pii, on_disconnected=self.finish
        )
        self._handlers.register()
        # the job serves the people in the room: once they have all left, and stayed away
        # for the grace period, it is done
        self._departure = DepartureWatch(
            self.ctx.room,
            grace=self._departure_timeout,
            people_on_server=self._people_on_server,
            on_empty=lambda: self.ctx.shutdown(reason="room empty"),
        )
        self._departure.start()

    async def _people_on_server(self) -> int:
        request = api.ListParticipantsRequest(room=self.ctx.room.name)
        response = await self.ctx.api.room.list_participants(request)
        return people_listed(response, self.ctx.room.local_participant.identity)

    def entrypoint_failed(self) -> None:
        """Count a job whose entrypoint raised (the SDK records the exception on the span)."""
        self._metrics.job_failed("entrypoint_error")

    def finish(self) -> None:
        """Release what the job opened; safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        self._report(JOB_DURATION)
        if self._departure is not None:
            self._departure.close()
        if self._handlers is not None:
            self._handlers.close()
        self.observer.close()
        if self._lag_task is not None:
            self._lag_task.cancel()
        self._reporter.close()

    async def on_shutdown(self, reason: str) -> None:
        """The job's shutdown callback: log it and release the job's resources."""
        with self.observer.context_of():
            logger.info("%s (reason: %s)", JOB_SHUTTING_DOWN, reason)
            self.finish()
        if self._lag_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task

    def _report(self, key: str) -> None:
        started_ns = self.root.start_time if isinstance(self.root, ReadableSpan) else None
        if started_ns is None:
            return
        seconds = max(time.time_ns() - started_ns, 0) / 1e9
        context = self.root.get_span_context()
        trace_id = f"{context.trace_id:032x}" if context.trace_flags.sampled else None
        self._reporter.report(key, seconds, trace_id)
