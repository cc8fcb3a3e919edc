"""One OpenTelemetry tracer provider per process, joined to the SDK's trace.

Each job process builds its own provider in prewarm, so no exporter thread ever crosses a
fork. With OTLP export, a job process hands its finished spans to the main process, which
exports them over one long-lived session (``telemetry.handoff``, ``telemetry.relay``). The
provider is handed to the SDK with ``livekit.agents.telemetry.set_tracer_provider``: the
SDK's own spans (``job_entrypoint`` with the dispatch timeline, ``room_connect``,
``job_shutdown``) and the project's then share one provider and form one trace per job,
and the SDK's PII filter runs before every exporter when personal data is not allowed.

Configuration is the OpenTelemetry specification's: ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_PROTOCOL``, ``OTEL_TRACES_SAMPLER``/``_ARG``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``, ``OTEL_SDK_DISABLED`` and
``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` are read by the OpenTelemetry SDK itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import multiprocessing.util
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.util.types import AttributeValue

from .exporters import MeteredBatchSpanProcessor, MeteredSpanExporter
from .handoff import SpanHandoff
from .span_ledger import SpanCounts, SpanLedger

__all__ = [
    "DEFAULT_SERVICE_NAME",
    "ExporterKind",
    "Protocol",
    "Tracing",
    "build_resource",
    "create_span_exporter",
    "setup_tracing",
]

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "livekit-agent-worker"
ExporterKind = Literal["otlp", "console", "none"]
Protocol = Literal["grpc", "http/protobuf"]


def build_resource(*, service_version: str, environment: str) -> Resource:
    """The process's resource: defaults first, the ``OTEL_*`` variables on top.

    Args:
        service_version: the project's version.
        environment: the ``deployment.environment.name``.
    """
    defaults: dict[str, AttributeValue] = {
        SERVICE_NAME: DEFAULT_SERVICE_NAME,
        "service.version": service_version,
        "deployment.environment.name": environment,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
    }
    from_env = Resource.create()  # service.instance.id, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    attributes = dict(defaults)
    for key, value in from_env.attributes.items():
        if key == SERVICE_NAME and str(value).startswith("unknown_service"):
            continue  # the SDK's placeholder, not a name anyone chose
        attributes[key] = value
    return Resource(attributes, from_env.schema_url)


def create_span_exporter(kind: ExporterKind, protocol: Protocol) -> SpanExporter | None:
    """The exporter for ``OTEL_TRACES_EXPORTER``; endpoint, headers and timeout come from
    the ``OTEL_EXPORTER_OTLP_*`` variables, read by the exporter itself."""
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


@dataclass
class Tracing:
    """A process's tracer provider and the processor that exports its spans."""

    provider: TracerProvider
    processor: MeteredBatchSpanProcessor | None
    _shutdown_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _shut_down: bool = field(default=False, repr=False)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Export what is queued; bounded by the exporter's own timeout."""
        if self.processor is None:
            return True
        return self.processor.force_flush(int(timeout_seconds * 1000))

    def shutdown(self, timeout_seconds: float = 5.0) -> None:
        """Export what is queued and stop, waiting at most ``timeout_seconds``; once (a
        second call waits for the first, within the same bound)."""
        if not self._shutdown_lock.acquire(timeout=timeout_seconds):
            return
        try:
            if self._shut_down:
                return
            self._shut_down = True
            if self.processor is not None:
                self.processor.shutdown_within(int(timeout_seconds * 1000))
            self.provider.shutdown()
        finally:
            self._shutdown_lock.release()

    def shutdown_when_ended(self, span: trace.Span, timeout_seconds: float) -> None:
        """Start the bounded exit flush as soon as ``span`` (a job's root) ends.

        The flush runs in the ending thread's event loop's default executor, which the job
        process's loop waits for before it closes, and so before the SDK closes the
        process's log forwarding: the flush's warning reaches the worker's log, however
        short the job. Without a running loop the flush is left to the exit finalizer.
        """
        span_id = span.get_span_context().span_id
        self.provider.add_span_processor(_ShutdownOnEnd(span_id, self, timeout_seconds))


class _ShutdownOnEnd(SpanProcessor):
    def __init__(self, span_id: int, tracing: Tracing, timeout_seconds: float) -> None:
        self._span_id = span_id
        self._tracing = tracing
        self._timeout = timeout_seconds

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or span.context.span_id != self._span_id:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        # the job's log context (room, job id) stays on the flush's log lines
        run = contextvars.copy_context().run
        loop.run_in_executor(None, run, self._tracing.shutdown, self._timeout)


def setup_tracing(
    *,
    resource: Resource,
    exporter: SpanExporter | None,
    span_counts: SpanCounts,
    allow_pii: bool,
    id_generator: IdGenerator | None = None,
    attribute_length_limit: int | None = None,
    schedule_delay_millis: int = 1000,
    install: bool = True,
    flush_at_exit_seconds: float | None = None,
    handoff_to: Path | None = None,
) -> Tracing:
    """Create the process's provider, export through a metered batch processor, and hand it
    to the SDK.

    Args:
        resource: see :func:`build_resource`.
        exporter: where spans go; None records spans without exporting them.
        span_counts: where the span accounting is recorded (ended, exported, lost by
            reason; see :class:`~telemetry.span_ledger.SpanLedger`).
        allow_pii: whether exporters may receive ``lk.pii.*`` attributes.
        id_generator: trace and span id source (the dispatch-aware one in job processes).
        attribute_length_limit: longest attribute value kept (longer ones are truncated);
            None leaves ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` to the SDK.
        schedule_delay_millis: how long a finished span may wait before export.
        install: hand the provider to the SDK (tests of the factory pass False).
        flush_at_exit_seconds: in a job process, export what is left when the process
            exits, waiting at most this long.
        handoff_to: hand finished spans to the main process's span socket at this path
            instead of exporting them (``exporter`` is then not used).
    """
    provider = TracerProvider(
        resource=resource,
        id_generator=id_generator,
        span_limits=SpanLimits(max_attribute_length=attribute_length_limit),
    )
    processor = None
    if handoff_to is not None:
        ledger = SpanLedger(span_counts, hands_over=True)
        processor = MeteredBatchSpanProcessor(
            SpanHandoff(handoff_to, ledger), ledger, schedule_delay_millis=schedule_delay_millis
        )
    elif exporter is not None:
        ledger = SpanLedger(span_counts)
        processor = MeteredBatchSpanProcessor(
            MeteredSpanExporter(exporter, ledger),
            ledger,
            schedule_delay_millis=schedule_delay_millis,
        )
    if processor is not None:
        provider.add_span_processor(processor)
    tracing = Tracing(provider, processor)
    if install:
        from livekit.agents.telemetry import set_tracer_provider

        # the SDK's spans, and any other OpenTelemetry instrumentation in the process
        set_tracer_provider(provider, allow_pii=allow_pii)
        trace.set_tracer_provider(provider)
    if flush_at_exit_seconds is not None:
        # job processes end through multiprocessing's bootstrap, which runs its finalizers
        # but not atexit handlers; a job's root span starts the flush earlier
        # (shutdown_when_ended), this is for a process whose job never got that far
        multiprocessing.util.Finalize(
            None, tracing.shutdown, args=(flush_at_exit_seconds,), exitpriority=100
        )
    return tracing
