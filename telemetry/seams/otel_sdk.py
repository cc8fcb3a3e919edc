"""The one module that touches private names of opentelemetry-sdk.

``BatchSpanProcessor`` delegates to a ``BatchProcessor`` it keeps private: the project swaps
its queue for one that counts the spans a full queue drops (the SDK only logs them), and
calls its ``shutdown`` with a bound (the public one always waits up to 30 s). Each private
name below carries why it is used and the version it was verified on; ``REQUIREMENTS`` lists
them for ``check()`` and ``tests/telemetry/seams/``.
"""

from __future__ import annotations

import collections
import inspect
import logging
import threading
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from . import Requirement, problems

__all__ = [
    "EXPORT_LOGGER",
    "REQUIREMENTS",
    "check",
    "count_queue_drops",
    "shutdown_queue",
]

# the logger of the batch processor, which logs every failed export; verified on 1.45.2
EXPORT_LOGGER = "opentelemetry.sdk._shared_internal"


class _CountingQueue(collections.deque[ReadableSpan]):
    """A bounded deque that counts each span it drops when full.

    A full deque drops its oldest span as a new one is added; checking the length before
    adding races the export thread taking a batch, so the check and the change share a lock.
    """

    def __init__(self, maxlen: int | None, on_drop: Callable[[], None]) -> None:
        super().__init__((), maxlen)
        self._lock = threading.Lock()
        self._on_drop = on_drop

    def appendleft(self, span: ReadableSpan) -> None:
        with self._lock:
            full = self.maxlen is not None and len(self) == self.maxlen
            super().appendleft(span)
        if full:
            self._on_drop()

    def pop(self) -> ReadableSpan:  # type: ignore[override]
        with self._lock:
            return super().pop()


def count_queue_drops(processor: BatchSpanProcessor, on_drop: Callable[[], None]) -> None:
    """Call ``on_drop`` for every span ``processor``'s full queue drops."""
    # the processor adds with `_queue.appendleft` and takes with `_queue.pop` on a deque of
    # `_max_queue_size`, and keeps no count of what it drops (it only logs); verified on 1.45.2
    batch = processor._batch_processor
    batch._queue = _CountingQueue(batch._max_queue_size, on_drop)


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


class _HeldExporter(SpanExporter):
    """Holds its first export until released, so the queue behind it fills predictably."""

    def __init__(self) -> None:
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export(self, spans: object) -> SpanExportResult:
        self.exporting.set()
        self.release.wait(5)
        return SpanExportResult.SUCCESS


def _counted_drops_hold() -> bool:
    # the export thread holds the first span in a stuck export, so of the next three spans
    # a queue of two keeps two and drops one, whatever the scheduling
    drops: list[int] = []
    exporter = _HeldExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=2, max_export_batch_size=1, schedule_delay_millis=60_000
    )
    count_queue_drops(processor, lambda: drops.append(1))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    try:
        provider.get_tracer(__name__).start_span("s").end()
        if not exporter.exporting.wait(5):
            return False
        for _ in range(3):
            provider.get_tracer(__name__).start_span("s").end()
        return len(drops) == 1 and len(processor._batch_processor._queue) == 2
    finally:
        exporter.release.set()
        provider.shutdown()


def _export_logger_holds() -> bool:
    from opentelemetry.sdk import _shared_internal

    return getattr(_shared_internal, "_logger", None) is logging.getLogger(EXPORT_LOGGER)


REQUIREMENTS = (
    Requirement(
        "BatchSpanProcessor._batch_processor",
        "a BatchProcessor with a deque _queue, an int _max_queue_size and shutdown(timeout_millis)",
        _batch_processor_holds,
    ),
    Requirement(
        "BatchProcessor._queue",
        "filled with appendleft and emptied with pop, so a counting deque sees every drop",
        _counted_drops_hold,
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
