"""Where every span a process ended went: exported, or lost for a named reason.

A process's spans are conserved: ``ended = exported + lost``, whatever the collector does.
The batch processor reports each span that ends, the exporter each batch it delivered or
failed, and the exit flush settles the rest when it stops waiting: spans still in an export
that has not returned count as ``export_timeout``, spans still queued (or ending after the
flush gave up) as ``shutdown``. Settling computes what is left from the counts themselves,
so a span between the queue and the exporter at that moment is counted once, never zero or
two times; an export that returns after the settlement changes nothing.

With the span relay (``telemetry.relay``) the account spans two processes: a job process's
ledger counts a batch handed to the main process as delivered (``hands_over``) and one it
could not hand over as lost (``handoff_failed``); the main process's ledger counts the spans
it *received* in place of spans that ended, and their export. Together, across the
processes: ended = exported + lost.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from .catalogue import SPAN_LOSS_REASONS

__all__ = ["SPAN_LOSS_REASONS", "SpanCounts", "SpanLedger"]

logger = logging.getLogger(__name__)


class SpanCounts(Protocol):
    """Where the ledger records its counts (``telemetry.metrics.WorkerMetrics``)."""

    def spans_ended(self, spans: int) -> None:
        """Count sampled spans that ended."""

    def spans_exported(self, spans: int) -> None:
        """Count spans the collector accepted."""

    def spans_lost(self, spans: int, reason: str) -> None:
        """Count spans lost for ``reason`` (one of ``SPAN_LOSS_REASONS``)."""

    def span_export_failed(self) -> None:
        """Count an export batch that did not deliver its spans."""

    def spans_relayed(self, spans: int) -> None:
        """Count spans the main process received from job processes to export."""


class SpanLedger:
    """Thread-safe span accounting of one process.

    Args:
        counts: where every count is recorded as it happens.
        hands_over: this process delivers its spans to the main process rather than to the
            collector (a job process with the relay): a delivered batch is counted by the
            main process when it arrives, a failed one is lost as ``handoff_failed``.
    """

    def __init__(self, counts: SpanCounts, *, hands_over: bool = False) -> None:
        self._counts = counts
        self._hands_over = hands_over
        self._lock = threading.Lock()
        self._ended = 0
        self._exported = 0
        self._in_flight = 0
        self._lost = dict.fromkeys(SPAN_LOSS_REASONS, 0)
        self._settled = False
        self._reported = False

    def ended(self, spans: int = 1) -> None:
        """Sampled spans ended; after the settlement they are lost at once."""
        with self._lock:
            self._ended += spans
            self._counts.spans_ended(spans)
            if self._settled:
                self._lose(spans, "shutdown")

    def received(self, spans: int) -> None:
        """Spans handed over by a job process enter this (the main) process's account; after
        the settlement they are lost at once."""
        with self._lock:
            self._ended += spans
            self._counts.spans_relayed(spans)
            if self._settled:
                self._lose(spans, "shutdown")

    def dropped(self, spans: int, reason: str) -> None:
        """Spans lost before any export: a full queue, or an exporter already shut down."""
        with self._lock:
            if not self._settled:
                self._lose(spans, reason)

    def exporting(self, spans: int) -> None:
        """An export of ``spans`` spans starts."""
        with self._lock:
            self._in_flight += spans

    def exported(self, spans: int, *, delivered: bool) -> None:
        """The export of ``spans`` spans returned, delivered or failed."""
        with self._lock:
            self._in_flight -= spans
            if self._settled:
                return  # already counted as lost when the exit flush gave up on it
            if delivered:
                self._exported += spans
                if not self._hands_over:  # handed-over spans are counted where they arrive
                    self._counts.spans_exported(spans)
            elif self._hands_over:
                self._lose(spans, "handoff_failed")
            else:
                self._counts.span_export_failed()
                self._lose(spans, "export_failed")

    def settle(self) -> dict[str, int]:
        """Count whatever is neither exported nor lost yet as lost, once.

        Returns:
            The spans this process lost, by reason (only reasons with losses).
        """
        with self._lock:
            if not self._settled:
                self._settled = True
                in_flight = max(self._in_flight, 0)
                if in_flight:
                    self._counts.span_export_failed()
                    self._lose(in_flight, "export_timeout")
                left = self._ended - self._exported - sum(self._lost.values())
                if left > 0:
                    self._lose(left, "shutdown")
            return {reason: n for reason, n in self._lost.items() if n}

    def report(self) -> None:
        """Settle, and log one warning with what this process lost, if it lost anything;
        only the first call logs."""
        lost = self.settle()
        with self._lock:
            first, self._reported = not self._reported, True
        if first and lost:
            logger.warning(
                "%d span(s) of this process were not exported (%s)",
                sum(lost.values()),
                ", ".join(f"{reason}: {n}" for reason, n in lost.items()),
            )

    def _lose(self, spans: int, reason: str) -> None:
        self._lost[reason] += spans
        self._counts.spans_lost(spans, reason)
