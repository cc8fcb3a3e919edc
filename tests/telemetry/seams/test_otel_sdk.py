"""The opentelemetry-sdk seam: the batch processor's private parts are still there."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import pytest
from opentelemetry.sdk import _shared_internal
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from telemetry.seams import otel_sdk


class _Refusing(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE


def test_the_installed_sdk_has_every_private_name_the_seam_uses() -> None:
    assert otel_sdk.check() == []


def test_a_changed_queue_is_named_with_the_installed_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = _shared_internal.BatchProcessor.__init__

    def list_queue(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._queue = list(self._queue)  # no longer a bounded deque

    monkeypatch.setattr(_shared_internal.BatchProcessor, "__init__", list_queue)

    [line] = otel_sdk.check()

    assert line.startswith(
        f"opentelemetry-sdk {version('opentelemetry-sdk')}: "
        "BatchSpanProcessor._batch_processor is gone or changed"
    )
    assert "telemetry/seams/otel_sdk.py" in line


def test_a_queue_filled_another_way_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def append(self: Any, span: Any) -> None:  # an upgrade that adds at the other end
        collections.deque.append(self, span)

    monkeypatch.setattr(otel_sdk._CountingQueue, "appendleft", append)

    [line] = otel_sdk.check()

    assert "BatchProcessor._queue is gone or changed" in line


def test_queue_drops_are_counted_exactly() -> None:
    drops: list[int] = []
    exporter = otel_sdk._HeldExporter()  # holds the first batch, so the queue fills behind it
    processor = BatchSpanProcessor(
        exporter, max_queue_size=4, max_export_batch_size=1, schedule_delay_millis=60_000
    )
    otel_sdk.count_queue_drops(processor, lambda: drops.append(1))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    try:
        provider.get_tracer(__name__).start_span("first").end()
        assert exporter.exporting.wait(5)
        for _ in range(7):
            provider.get_tracer(__name__).start_span("s").end()
        assert len(drops) == 3
    finally:
        exporter.release.set()
        provider.shutdown()
