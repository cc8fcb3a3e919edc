"""Span export that accounts for every span and reports failures in bounded warnings.

The OTLP exporters log every failed attempt; with the collector down that is a warning
per batch per retry, forever. :class:`MeteredSpanExporter` records each batch in the
process's :class:`~telemetry.span_ledger.SpanLedger` (exported, or lost) and logs at most
one warning per ``warn_interval``, plus one when delivery recovers.
:class:`MeteredBatchSpanProcessor` records the spans that end and the spans a full queue
drops, and its bounded exit flush settles the ledger and logs what the process lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .log_messages import SPAN_EXPORT_FAILING, SPAN_EXPORT_RECOVERED
from .seams import otel_sdk
from .span_ledger import SpanLedger

__all__ = [
    "EXPORT_GRACE_MILLIS",
    "ExportWarnings",
    "MeteredBatchSpanProcessor",
    "MeteredSpanExporter",
]

logger = logging.getLogger(__name__)

# how long an exiting process waits for an export in progress before it assumes the export
# is retrying an unreachable collector (see MeteredBatchSpanProcessor.shutdown_within)
EXPORT_GRACE_MILLIS = 2000


class ExportWarnings:
    """Failure warnings of one exporting path, at most one per ``warn_interval``, plus one
    when delivery recovers.

    Args:
        warn_interval: minimum seconds between two warnings.
        clock: monotonic time source (tests pass a fake one).
    """

    def __init__(
        self, *, warn_interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._warn_interval = warn_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_warning: float | None = None
        self._failures_since_warning = 0
        self._failing = False

    @property
    def failing(self) -> bool:
        """Whether the latest export failed (and none succeeded since)."""
        with self._lock:
            return self._failing

    def failed(self, spans: int) -> None:
        """An export of ``spans`` spans failed: warn, unless a warning went out recently."""
        with self._lock:
            self._failing = True
            self._failures_since_warning += 1
            now = self._clock()
            if self._last_warning is not None and now - self._last_warning < self._warn_interval:
                return
            failures, self._failures_since_warning = self._failures_since_warning, 0
            self._last_warning = now
        logger.warning(
            "%s (%d failed batch(es) since the last warning, %d spans in the latest); "
            "is the OTLP endpoint reachable?",
            SPAN_EXPORT_FAILING,
            failures,
            spans,
        )

    def delivered(self) -> None:
        """An export succeeded: say so once if the previous ones failed."""
        with self._lock:
            if not self._failing:
                return
            self._failing = False
            self._last_warning = None
            self._failures_since_warning = 0
        logger.info(SPAN_EXPORT_RECOVERED)


class MeteredSpanExporter(SpanExporter):
    """Wraps an exporter: accounts for every batch and rate-limits the failure warnings.

    Args:
        inner: the exporter that delivers spans.
        ledger: the process's span accounting.
        warn_interval: minimum seconds between two warnings.
        clock: monotonic time source (tests pass a fake one).
    """

    def __init__(
        self,
        inner: SpanExporter,
        ledger: SpanLedger,
        *,
        warn_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ledger = ledger
        self._warnings = ExportWarnings(warn_interval=warn_interval, clock=clock)
        self._lock = threading.Lock()
        self._shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the inner exporter, accounting for the batch either way."""
        with self._lock:
            shut_down = self._shut_down
        if shut_down:  # what is left after the exit flush gave up: never sent
            self._ledger.dropped(len(spans), "shutdown")
            return SpanExportResult.FAILURE
        self._ledger.exporting(len(spans))
        try:
            result = self._inner.export(spans)
        except Exception:  # an exporter must not take the batch thread down with it
            logger.debug("span exporter raised", exc_info=True)
            result = SpanExportResult.FAILURE
        delivered = result is SpanExportResult.SUCCESS
        self._ledger.exported(len(spans), delivered=delivered)
        if delivered:
            self._warnings.delivered()
        else:
            self._warnings.failed(len(spans))
        return result

    @property
    def failing(self) -> bool:
        """Whether the latest export failed (and none succeeded since)."""
        return self._warnings.failing

    def shutdown(self) -> None:
        """Shut the inner exporter down (once; it stops retrying an export in progress)."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self._inner.force_flush(timeout_millis)


class MeteredBatchSpanProcessor(BatchSpanProcessor):
    """A batch processor that accounts for the spans that end and those a full queue drops.

    Args:
        exporter: the exporter.
        ledger: the process's span accounting (the exporter's, for a metered one).
        **kwargs: passed to :class:`BatchSpanProcessor` (queue size, delays).
    """

    def __init__(self, exporter: SpanExporter, ledger: SpanLedger, **kwargs: int) -> None:
        super().__init__(exporter, **kwargs)  # type: ignore[arg-type]
        self._exporter = exporter
        self.ledger = ledger
        otel_sdk.count_queue_drops(self, lambda: ledger.dropped(1, "queue_full"))

    def shutdown_within(self, timeout_millis: int) -> None:
        """Export what is queued and stop, waiting at most ``timeout_millis``.

        A reachable collector takes a job's last spans in milliseconds. An export still
        running after ``EXPORT_GRACE_MILLIS``, or one after a failed export, is retrying a
        collector that does not answer: the OTLP exporters back off for seconds between
        attempts, and waiting would keep an exiting job process (and its memory) alive for
        the whole bound. The exporter is then shut down, which ends its retries. Whatever
        was not exported by then is counted as lost, and one warning says how many spans
        the process lost and why (see :class:`~telemetry.span_ledger.SpanLedger`).
        """
        # BatchSpanProcessor.shutdown() always waits up to 30 s; the bound a job process needs
        # to exit before the SDK kills it goes to its queue instead
        failing = isinstance(self._exporter, MeteredSpanExporter) and self._exporter.failing
        grace = 0 if failing else min(timeout_millis, EXPORT_GRACE_MILLIS)
        flush = threading.Thread(
            target=otel_sdk.shutdown_queue,
            args=(self, timeout_millis),
            name="span-flush",
            daemon=True,
        )
        flush.start()
        flush.join(grace / 1000)
        if flush.is_alive():
            self._exporter.shutdown()
            flush.join(max(timeout_millis - grace, 0) / 1000)
        self.ledger.report()

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the span, counting it as ended (its queue counts a span it drops)."""
        if span.context is not None and span.context.trace_flags.sampled:
            self.ledger.ended()
        super().on_end(span)
