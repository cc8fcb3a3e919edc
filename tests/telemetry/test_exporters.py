"""Metered export: failures counted, warnings bounded, full-queue drops counted."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.exporters import MeteredBatchSpanProcessor, MeteredSpanExporter


class _Flaky(SpanExporter):
    def __init__(self) -> None:
        self.up = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS if self.up else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_failures_are_counted_and_warnings_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telemetry.exporters")
    now = [0.0]
    lost: list[int] = []
    inner = _Flaky()
    exporter = MeteredSpanExporter(inner, lost.append, warn_interval=60, clock=lambda: now[0])
    for second in range(300):  # one failed batch per second for five minutes
        now[0] = float(second)
        assert exporter.export([None] * 3) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert lost == [3] * 300
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 5
    inner.up = True
    assert exporter.export([]) is SpanExportResult.SUCCESS
    assert caplog.records[-1].getMessage() == "span export recovered"


def test_an_exporter_that_raises_counts_as_a_failure() -> None:
    class _Raising(_Flaky):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise ConnectionError("refused")

    lost: list[int] = []
    exporter = MeteredSpanExporter(_Raising(), lost.append)
    assert exporter.export([None]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert lost == [1]


def test_full_queue_drops_are_counted() -> None:
    dropped: list[int] = []
    processor = MeteredBatchSpanProcessor(
        _Flaky(),
        dropped.append,
        max_queue_size=4,
        max_export_batch_size=4,
        schedule_delay_millis=60_000,
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    # the worker thread may take one batch off the queue; spans beyond 4 + 4 are dropped
    for _ in range(20):
        tracer.start_span("s").end()
    assert 12 <= sum(dropped) <= 16
    processor.shutdown_within(1000)
