"""Put the current trace and span ids on log records, so a log line leads to its trace."""

from __future__ import annotations

import logging

from opentelemetry import trace

__all__ = ["TraceContextFilter", "install_trace_context_filter"]


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex) from the current span to each record.

    Args:
        fallback: the span whose ids a record gets when no span is current, e.g. the job's
            root span for SDK records logged outside any span.
    """

    def __init__(self, fallback: trace.Span | None = None) -> None:
        super().__init__()
        self.fallback = fallback

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops it."""
        context = trace.get_current_span().get_span_context()
        if not context.is_valid and self.fallback is not None:
            context = self.fallback.get_span_context()
        if context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        return True


def install_trace_context_filter(
    fallback: trace.Span | None = None, logger: logging.Logger | None = None
) -> TraceContextFilter:
    """Add a :class:`TraceContextFilter` to every handler of ``logger`` (the root by default).

    Filters on handlers rather than loggers see records from every logger; in a job
    process the root's handler is the SDK's queue to the main process, so the ids travel
    with the record.
    """
    target = logger or logging.getLogger()
    context_filter = TraceContextFilter(fallback)
    for handler in target.handlers:
        handler.addFilter(context_filter)
    return context_filter
