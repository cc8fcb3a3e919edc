"""Trace and span ids on log records."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from telemetry.logcontext import TraceContextFilter


def _record() -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)


def test_ids_of_the_current_span_else_the_fallback() -> None:
    tracer = TracerProvider().get_tracer("t")
    root = tracer.start_span("root")
    child = tracer.start_span("child", context=trace.set_span_in_context(root))
    context_filter = TraceContextFilter(fallback=root)

    record = _record()
    with trace.use_span(child):
        assert context_filter.filter(record)
    assert record.trace_id == f"{child.get_span_context().trace_id:032x}"
    assert record.span_id == f"{child.get_span_context().span_id:016x}"

    record = _record()
    context_filter.filter(record)
    assert record.span_id == f"{root.get_span_context().span_id:016x}"


def test_no_ids_without_a_span() -> None:
    record = _record()
    assert TraceContextFilter().filter(record)
    with pytest.raises(AttributeError):
        _ = record.trace_id
