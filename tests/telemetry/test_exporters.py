"""Metered export: every span accounted for, warnings bounded, the exit flush bounded."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.exporters import MeteredBatchSpanProcessor, MeteredSpanExporter
from telemetry.span_ledger import SpanLedger
from telemetry.tracing import Tracing


class _Counts:
    """A SpanCounts that remembers what it was told."""

    def __init__(self) -> None:
        self.ended = 0
        self.exported = 0
        self.failures = 0
        self.relayed = 0
        self.lost: Counter[str] = Counter()

    def spans_ended(self, spans: int) -> None:
        self.ended += spans

    def spans_exported(self, spans: int) -> None:
        self.exported += spans

    def spans_lost(self, spans: int, reason: str) -> None:
        self.lost[reason] += spans

    def span_export_failed(self) -> None:
        self.failures += 1

    def spans_relayed(self, spans: int) -> None:
        self.relayed += spans

    @property
    def balanced(self) -> bool:
        return self.ended == self.exported + sum(self.lost.values())


class _Flaky(SpanExporter):
    def __init__(self) -> None:
        self.up = False
        self.received = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.up:
            self.received += len(spans)
        return SpanExportResult.SUCCESS if self.up else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


class _Hanging(SpanExporter):
    """Accepts the batch and never answers (until the test releases it)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        self.release.wait(30)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass  # like the OTLP exporter: closing does not interrupt a request in progress


class _Slow(_Flaky):
    """Answers, successfully, after longer than the exit flush waits."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.up = True
        self.delay = delay

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(self.delay)
        return super().export(spans)


@pytest.fixture
def released() -> Iterator[list[_Hanging]]:
    hanging: list[_Hanging] = []
    yield hanging
    for exporter in hanging:
        exporter.release.set()


def _pipeline(
    inner: SpanExporter, counts: _Counts, **kwargs: int
) -> tuple[MeteredBatchSpanProcessor, TracerProvider]:
    ledger = SpanLedger(counts)
    processor = MeteredBatchSpanProcessor(MeteredSpanExporter(inner, ledger), ledger, **kwargs)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider


def _end_spans(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("t")
    for _ in range(count):
        tracer.start_span("s").end()


def _lost_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "telemetry.span_ledger" and r.levelname == "WARNING"
    ]


def test_failures_are_counted_and_warnings_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telemetry.exporters")
    now = [0.0]
    counts = _Counts()
    inner = _Flaky()
    exporter = MeteredSpanExporter(
        inner, SpanLedger(counts), warn_interval=60, clock=lambda: now[0]
    )
    for second in range(300):  # one failed batch per second for five minutes
        now[0] = float(second)
        assert exporter.export([None] * 3) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert counts.lost == {"export_failed": 900}
    assert counts.failures == 300
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 5
    inner.up = True
    assert exporter.export([None]) is SpanExportResult.SUCCESS  # type: ignore[list-item]
    assert counts.exported == 1
    assert caplog.records[-1].getMessage() == "span export recovered"


def test_an_exporter_that_raises_counts_as_a_failure() -> None:
    class _Raising(_Flaky):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise ConnectionError("refused")

    counts = _Counts()
    exporter = MeteredSpanExporter(_Raising(), SpanLedger(counts))
    assert exporter.export([None]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert counts.lost == {"export_failed": 1}
    assert counts.failures == 1


def test_full_queue_drops_are_counted_and_the_rest_settled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = _Counts()
    processor, provider = _pipeline(
        _Flaky(), counts, max_queue_size=4, max_export_batch_size=4, schedule_delay_millis=60_000
    )
    # the worker thread may take one batch off the queue; spans beyond 4 + 4 are dropped
    _end_spans(provider, 20)
    assert 12 <= counts.lost["queue_full"] <= 16
    processor.shutdown_within(1000)
    assert counts.ended == 20
    assert counts.balanced, counts.__dict__
    (warning,) = _lost_warnings(caplog)
    assert warning.startswith("20 span(s) of this process were not exported (queue_full: ")


def test_a_reachable_collector_gets_every_span_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = _Counts()
    inner = _Flaky()
    inner.up = True
    processor, provider = _pipeline(inner, counts, schedule_delay_millis=50)
    _end_spans(provider, 30)
    processor.shutdown_within(2000)
    assert counts.ended == counts.exported == inner.received == 30
    assert sum(counts.lost.values()) == 0
    assert _lost_warnings(caplog) == []


def test_a_failing_collector_loses_every_span_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = _Counts()
    processor, provider = _pipeline(_Flaky(), counts, schedule_delay_millis=50)
    _end_spans(provider, 10)
    time.sleep(0.3)  # exported, and failed
    _end_spans(provider, 5)
    processor.shutdown_within(1000)
    assert counts.ended == 15
    assert counts.exported == 0
    assert counts.balanced, counts.__dict__
    assert counts.lost["export_failed"] >= 10
    assert counts.failures >= 1
    (warning,) = _lost_warnings(caplog)
    assert warning.startswith("15 span(s) of this process were not exported (export_failed: ")


def test_a_hanging_collector_is_given_up_within_the_bound_and_counted(
    caplog: pytest.LogCaptureFixture, released: list[_Hanging]
) -> None:
    counts = _Counts()
    inner = _Hanging()
    released.append(inner)
    processor, provider = _pipeline(
        inner, counts, schedule_delay_millis=50, max_export_batch_size=4
    )
    _end_spans(provider, 3)
    time.sleep(0.3)  # the first batch is in flight, and stays there
    _end_spans(provider, 6)
    started = time.monotonic()
    processor.shutdown_within(1000)
    assert time.monotonic() - started < 1.5
    assert inner.calls == 1
    assert counts.ended == 9
    assert counts.lost == {"export_timeout": 3, "shutdown": 6}
    assert counts.failures == 1  # the batch that never came back
    assert counts.balanced
    assert _lost_warnings(caplog) == [
        "9 span(s) of this process were not exported (export_timeout: 3, shutdown: 6)"
    ]

    # the abandoned export returns later, and spans end after the flush: counted once
    inner.release.set()
    _end_spans(provider, 2)
    time.sleep(0.1)
    assert counts.ended == 11
    assert counts.lost == {"export_timeout": 3, "shutdown": 8}
    assert counts.balanced
    processor.shutdown_within(1000)
    assert len(_lost_warnings(caplog)) == 1  # once per process


def test_a_collector_slower_than_the_bound_counts_its_batch_as_timed_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = _Counts()
    inner = _Slow(delay=1.5)
    processor, provider = _pipeline(inner, counts, schedule_delay_millis=50)
    _end_spans(provider, 4)
    time.sleep(0.2)
    processor.shutdown_within(500)
    assert counts.lost == {"export_timeout": 4}
    assert counts.balanced
    time.sleep(1.5)  # it answered in the end, after the process would have exited
    assert inner.received == 4
    assert counts.exported == 0  # settled as lost; not counted twice
    assert counts.balanced
    assert len(_lost_warnings(caplog)) == 1


def test_the_exit_flush_starts_when_the_root_span_ends_and_the_loop_waits_for_it(
    caplog: pytest.LogCaptureFixture, released: list[_Hanging]
) -> None:
    counts = _Counts()
    inner = _Hanging()
    released.append(inner)
    processor, provider = _pipeline(inner, counts, schedule_delay_millis=50)
    tracing = Tracing(provider, processor)
    warned_in_loop: list[bool] = []

    async def job() -> None:
        root = provider.get_tracer("t").start_span("job_entrypoint")
        tracing.shutdown_when_ended(root, 0.5)
        _end_spans(provider, 2)
        await asyncio.sleep(0.2)
        root.end()  # as the SDK does, at the very end of the job task
        warned_in_loop.append(bool(_lost_warnings(caplog)))

    started = time.monotonic()
    asyncio.run(job())  # returns once the default executor (the flush) is done
    assert time.monotonic() - started < 2.0
    assert warned_in_loop == [False]  # the flush ran in the executor, not in the loop
    assert _lost_warnings(caplog) == [
        "3 span(s) of this process were not exported (export_timeout: 2, shutdown: 1)"
    ]
    assert counts.balanced
    tracing.shutdown(0.5)  # the exit finalizer: nothing left to do
    assert len(_lost_warnings(caplog)) == 1
