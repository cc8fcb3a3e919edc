"""The one module that touches private names of opentelemetry-sdk.

``BatchSpanProcessor`` delegates to a ``BatchProcessor`` it keeps private: the project reads
its queue to count the spans a full queue drops (the SDK only logs them), and calls its
``shutdown`` with a bound (the public one always waits up to 30 s). Each private name below
carries why it is used and the version it was verified on; ``REQUIREMENTS`` lists them for
``check()`` and ``tests/telemetry/seams/``.
"""

from __future__ import annotations

import collections
import inspect
import logging

from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from . import Requirement, problems

__all__ = [
    "EXPORT_LOGGER",
    "REQUIREMENTS",
    "check",
    "max_queue_size",
    "queue_length",
    "shutdown_queue",
]

# the logger of the batch processor, which logs every failed export; verified on 1.45.2
EXPORT_LOGGER = "opentelemetry.sdk._shared_internal"


def queue_length(processor: BatchSpanProcessor) -> int:
    """How many spans wait in ``processor``'s queue."""
    # the queue the processor drops from when full; verified on 1.45.2
    return len(processor._batch_processor._queue)


def max_queue_size(processor: BatchSpanProcessor) -> int:
    """How many spans ``processor``'s queue holds at most."""
    # the size the processor was created with, after its defaults; verified on 1.45.2
    return int(processor._batch_processor._max_queue_size)


def shutdown_queue(processor: BatchSpanProcessor, timeout_millis: int) -> None:
    """Export what ``processor`` queued and stop it, waiting at most ``timeout_millis``."""
    # the public shutdown() passes no bound (30 s); verified on 1.45.2
    processor._batch_processor.shutdown(timeout_millis=timeout_millis)


class _NullExporter(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _batch_processor_holds() -> bool:
    processor = BatchSpanProcessor(_NullExporter(), max_queue_size=7, max_export_batch_size=7)
    try:
        inner = processor._batch_processor
        return (
            isinstance(inner._queue, collections.deque)
            and inner._max_queue_size == 7
            and "timeout_millis" in inspect.signature(inner.shutdown).parameters
        )
    finally:
        processor.shutdown()  # type: ignore[no-untyped-call]


def _export_logger_holds() -> bool:
    from opentelemetry.sdk import _shared_internal

    return getattr(_shared_internal, "_logger", None) is logging.getLogger(EXPORT_LOGGER)


REQUIREMENTS = (
    Requirement(
        "BatchSpanProcessor._batch_processor",
        "a BatchProcessor with a deque _queue, an int _max_queue_size and "
        "shutdown(timeout_millis)",
        _batch_processor_holds,
    ),
    Requirement(
        f"logger {EXPORT_LOGGER!r}",
        "the logger of the batch processor's failed exports",
        _export_logger_holds,
    ),
)


def check() -> list[str]:
    """One line per private name of opentelemetry-sdk that is gone or changed (empty: none)."""
    return problems("opentelemetry-sdk", "telemetry/seams/otel_sdk.py", REQUIREMENTS)
