"""The span relay: job processes hand spans over a socket, the main process exports them.

Every test runs the real hand-over (``SpanHandoff``), the real socket (``SpanReceiver``)
and the real relay (``SpanRelay``), with a fake ``export`` standing for the collector, and
checks conservation across both sides: ended = exported + lost.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from telemetry.exporters import ExportWarnings, MeteredBatchSpanProcessor
from telemetry.handoff import SpanHandoff, frame
from telemetry.relay import SpanReceiver, SpanRelay
from telemetry.span_ledger import SpanLedger

from .test_exporters import _Counts


class _Collector:
    """The fake ``export``: counts the spans of each request it is given."""

    def __init__(self, answer: Callable[[], bool] = lambda: True) -> None:
        self.answer = answer
        self.requests: list[int] = []
        self.spans = 0

    def __call__(self, _exporter: SpanExporter, payload: bytes) -> bool:
        request = ExportTraceServiceRequest.FromString(payload)
        count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        self.requests.append(count)
        ok = self.answer()
        if ok:
            self.spans += count
        return ok


class _Exporter(SpanExporter):
    def __init__(self) -> None:
        self.shut_down = False

    def export(self, spans: object) -> object:  # type: ignore[override]
        raise AssertionError("the relay sends encoded bytes, never spans")

    def shutdown(self) -> None:
        self.shut_down = True


@pytest.fixture
def socket_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are short: a fresh short directory
    return Path(tmp_path_factory.mktemp("r", numbered=True)) / "spans.sock"


def _job_side(path: Path, counts: _Counts) -> tuple[MeteredBatchSpanProcessor, TracerProvider]:
    ledger = SpanLedger(counts, hands_over=True)
    processor = MeteredBatchSpanProcessor(SpanHandoff(path, ledger), ledger)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider


def _end(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("t")
    for _ in range(count):
        tracer.start_span("s").end()


async def _until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _relay(collector: _Collector, counts: _Counts, **kwargs: object) -> SpanRelay:
    relay = SpanRelay(
        _Exporter(),
        SpanLedger(counts),
        export=collector,
        batch_delay=0.05,
        **kwargs,  # type: ignore[arg-type]
    )
    relay.start()
    return relay


def test_spans_handed_over_are_exported_by_the_main_process(socket_path: Path) -> None:
    job, main, collector = _Counts(), _Counts(), _Collector()

    async def run() -> None:
        relay = _relay(collector, main)
        receiver = SpanReceiver(socket_path, relay)
        await receiver.start()
        processor, provider = _job_side(socket_path, job)
        _end(provider, 7)
        assert processor.force_flush(5000)
        _end(provider, 5)
        await asyncio.to_thread(processor.shutdown_within, 4000)
        await _until(lambda: main.relayed == 12)
        await receiver.aclose()
        await asyncio.to_thread(relay.shutdown_within, 5.0)

    asyncio.run(run())
    assert job.ended == 12
    assert job.exported == 0
    assert not job.lost
    assert main.relayed == 12
    assert main.exported == 12
    assert not main.lost
    assert collector.spans == 12
    assert not socket_path.exists()


def test_batches_that_arrive_together_go_out_in_one_request(socket_path: Path) -> None:
    main, collector = _Counts(), _Collector()
    relay = SpanRelay(_Exporter(), SpanLedger(main), export=collector, batch_delay=0.2)
    relay.start()
    for _ in range(3):
        relay.submit(*_encoded(4))
    relay.shutdown_within(5.0)
    assert collector.requests == [12]
    assert main.exported == 12


def _encoded(spans: int) -> tuple[int, bytes]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    _end(provider, spans)
    return spans, encode_spans(memory.get_finished_spans()).SerializeToString()


_KILLED_JOB = """
import os, signal, sys
from opentelemetry.sdk.trace import TracerProvider
from telemetry.exporters import MeteredBatchSpanProcessor
from telemetry.handoff import SpanHandoff
from telemetry.span_ledger import SpanLedger

class Counts:
    def __getattr__(self, name):
        return lambda *args: None

ledger = SpanLedger(Counts(), hands_over=True)
processor = MeteredBatchSpanProcessor(SpanHandoff(sys.argv[1], ledger), ledger)
provider = TracerProvider()
provider.add_span_processor(processor)
for _ in range(9):
    provider.get_tracer("t").start_span("s").end()
assert processor.force_flush(5000)
os.kill(os.getpid(), signal.SIGKILL)  # no exit flush, no finalizer
"""


def test_a_job_process_killed_after_handing_over_loses_none(socket_path: Path) -> None:
    main, collector = _Counts(), _Collector()

    async def run() -> int:
        relay = _relay(collector, main)
        receiver = SpanReceiver(socket_path, relay)
        await receiver.start()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _KILLED_JOB, str(socket_path), cwd=Path(__file__).parents[2]
        )
        code = await child.wait()
        await _until(lambda: main.relayed == 9)
        await receiver.aclose()
        await asyncio.to_thread(relay.shutdown_within, 5.0)
        return code

    assert asyncio.run(run()) == -9
    assert main.exported == 9
    assert collector.spans == 9
    assert not main.lost


def test_an_unfinished_frame_of_a_dying_process_is_discarded(socket_path: Path) -> None:
    main, collector = _Counts(), _Collector()

    async def run() -> None:
        relay = _relay(collector, main)
        receiver = SpanReceiver(socket_path, relay)
        await receiver.start()
        spans, payload = _encoded(3)
        _, writer = await asyncio.open_unix_connection(str(socket_path))
        writer.write(frame(spans, payload) + frame(spans, payload)[:20])
        await writer.drain()
        writer.close()
        await _until(lambda: main.relayed == 3)
        await asyncio.sleep(0.1)
        await receiver.aclose()
        await asyncio.to_thread(relay.shutdown_within, 5.0)

    asyncio.run(run())
    assert main.relayed == 3
    assert main.exported == 3


def test_the_full_relay_queue_drops_arriving_batches_and_counts_them() -> None:
    main = _Counts()
    release = threading.Event()
    collector = _Collector(answer=lambda: release.wait(10))
    relay = _relay(collector, main, max_queue_spans=10)
    for _ in range(5):  # the first goes out (and waits); the next two queue, two drop
        relay.submit(*_encoded(4))
        time.sleep(0.1)
    release.set()
    relay.shutdown_within(5.0)
    assert main.lost == {"relay_queue_full": 8}
    assert main.relayed == 20
    assert main.exported == 12
    assert main.relayed == main.exported + sum(main.lost.values())


def test_a_collector_outage_costs_the_job_process_nothing(
    socket_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job, main = _Counts(), _Counts()
    collector = _Collector(answer=lambda: False)

    async def run() -> float:
        relay = _relay(collector, main, warnings=ExportWarnings(warn_interval=60))
        receiver = SpanReceiver(socket_path, relay)
        await receiver.start()
        processor, provider = _job_side(socket_path, job)
        started = time.monotonic()
        for _ in range(3):
            _end(provider, 4)
            assert processor.force_flush(5000)
        await asyncio.to_thread(processor.shutdown_within, 4000)
        job_seconds = time.monotonic() - started
        await _until(lambda: main.relayed == 12 and not relay.queued_spans)
        await receiver.aclose()
        await asyncio.to_thread(relay.shutdown_within, 5.0)
        return job_seconds

    with caplog.at_level(logging.INFO):
        job_seconds = asyncio.run(run())
    assert job_seconds < 1.0
    assert job.ended == 12
    assert not job.lost
    assert main.exported == 0
    assert sum(main.lost.values()) == 12
    assert set(main.lost) == {"export_failed"}
    failing = [r for r in caplog.records if r.name == "telemetry.exporters"]
    assert len(failing) == 1  # rate-limited
    (lost,) = [r.getMessage() for r in caplog.records if r.name == "telemetry.span_ledger"]
    assert lost == "12 span(s) of this process were not exported (export_failed: 12)"


def test_a_hanging_collector_is_given_up_at_shutdown_within_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    main = _Counts()
    release = threading.Event()
    collector = _Collector(answer=lambda: release.wait(30))
    relay = _relay(collector, main)
    relay.submit(*_encoded(5))
    time.sleep(0.2)  # in flight
    relay.submit(*_encoded(2))  # queued
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        relay.shutdown_within(1.0)
    took = time.monotonic() - started
    release.set()
    assert took < 1.5
    assert main.lost == {"export_timeout": 5, "shutdown": 2}
    assert main.failures == 1
    (lost,) = [r.getMessage() for r in caplog.records if r.name == "telemetry.span_ledger"]
    assert lost == "7 span(s) of this process were not exported (export_timeout: 5, shutdown: 2)"


def test_a_job_process_without_a_main_process_counts_its_spans_lost(
    socket_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = _Counts()
    processor, provider = _job_side(socket_path, job)  # nothing listens there
    _end(provider, 6)
    with caplog.at_level(logging.WARNING):
        processor.shutdown_within(4000)
    assert job.lost == {"handoff_failed": 6}
    assert job.exported == 0
    assert job.failures == 0
    (lost,) = [r.getMessage() for r in caplog.records if r.name == "telemetry.span_ledger"]
    assert lost == "6 span(s) of this process were not exported (handoff_failed: 6)"
