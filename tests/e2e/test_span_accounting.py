"""Span conservation under every collector behaviour: ended = exported + counted lost.

Each test runs short jobs against a real livekit-server while the OTLP endpoint is a real
Collector, or a local fake that refuses connections, accepts and never answers, answers
after the export timeout, or answers 503. The job processes hand their spans to the main
process, which exports them (``telemetry.relay``). After the worker stopped, the test reads
its final counts, summed over every process, from its metrics directory: every span the
jobs ended was exported or counted lost with the expected reason; the job processes lost
none whatever the collector did; the main process, which lost them, said so in exactly one
warning line with the count; job processes exited at once after their room ended; and
health stayed 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from devtools.harness import (
    LiveKitServer,
    OtelCollector,
    WorkerProcess,
    free_port,
    value,
    wait_until,
)
from devtools.synthetic import ServerAccess, SyntheticParticipant

from .conftest import AGENT_NAME, room_name, session

# the worker's bound (worker.job._EXIT_FLUSH_SECONDS), plus polling and a loaded machine
_EXIT_BOUND = 4.0
_EXIT_SLACK = 2.0
# OTEL_EXPORTER_OTLP_TIMEOUT: short, so failures come fast; for the collector that never
# answers, the default 10 s, longer than the exit flush waits (the case that lost spans
# without counting them)
_EXPORT_TIMEOUT = {"hang": "10"}
_ROOMS = 3
_LOSS_REASONS = (
    "queue_full",
    "export_failed",
    "export_timeout",
    "shutdown",
    "handoff_failed",
    "relay_queue_full",
)
_LOST_LINE = re.compile(r"(\d+) span\(s\) of this process were not exported \((.*?)\)")


@dataclass
class _FakeOtlp:
    """An OTLP/HTTP endpoint on loopback that misbehaves as told, counting what it got."""

    behaviour: str
    answer_after: float = 2.0
    spans_received: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                fake.spans_received += sum(
                    len(scope.spans)
                    for resource in request.resource_spans
                    for scope in resource.scope_spans
                )
                if fake.behaviour == "hang":
                    fake.stop.wait(60)
                    return
                if fake.behaviour == "slow":
                    fake.stop.wait(fake.answer_after)
                    self._answer(200, trace_service_pb2.ExportTraceServiceResponse())
                    return
                self._answer(503, None)

            def _answer(self, code: int, message: object) -> None:
                payload = message.SerializeToString() if message is not None else b""  # type: ignore[attr-defined]
                with contextlib.suppress(OSError):  # the client gave up already
                    self.send_response(code)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return _Handler


@contextlib.contextmanager
def _endpoint(behaviour: str, work_dir: Path) -> Iterator[tuple[str, OtelCollector | None]]:
    """The OTLP endpoint for ``behaviour``: its URL, and the Collector when it is real."""
    if behaviour == "up":
        with OtelCollector(work_dir / "collector") as collector:
            yield collector.otlp_http_endpoint, collector
        return
    if behaviour == "refuse":
        yield f"http://127.0.0.1:{free_port()}", None  # nothing listens there
        return
    fake = _FakeOtlp(behaviour)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"otlp-{behaviour}")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", None
    finally:
        fake.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _health(worker: WorkerProcess) -> int:
    try:
        return httpx.get(worker.health_url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_exits(worker: WorkerProcess, rooms: list[str]) -> dict[int, float]:
    """Wait until each room's job process is gone; the seconds from the room's end (as the
    test saw its shutdown line) to the process gone, by pid."""
    ended_at: dict[int, float] = {}
    exit_after: dict[int, float] = {}
    deadline = time.monotonic() + 60
    while len(exit_after) < len(rooms) and time.monotonic() < deadline:
        for room in rooms:
            pattern = re.compile(rf"Job shutting down \(reason: room empty\) \| room={room} ")
            for line in worker.lines():
                if pattern.search(line):
                    pid = int(re.findall(r" pid=(\d+)", line)[0])
                    ended_at.setdefault(pid, time.monotonic())
        for pid, at in ended_at.items():
            if pid not in exit_after and _gone(pid):
                exit_after[pid] = time.monotonic() - at
        time.sleep(0.05)
    assert len(exit_after) == len(rooms), f"job processes still running\n{worker.tail()}"
    return exit_after


async def _short_jobs(access: ServerAccess, rooms: list[str]) -> None:
    await asyncio.gather(
        *(
            session(access, room, [SyntheticParticipant(access, room, f"p-{room}")])
            for room in rooms
        )
    )


def _lost_lines(worker: WorkerProcess) -> dict[str, list[tuple[int, str]]]:
    """The loss warnings, by process: ``main``, or a job process's pid."""
    found: dict[str, list[tuple[int, str]]] = {}
    for line in worker.lines():
        match = _LOST_LINE.search(line)
        if match is None:
            continue
        assert " | WARNING | telemetry.span_ledger | " in line, line
        pid = re.findall(r" pid=(\d+)", line)
        found.setdefault(pid[0] if pid else "main", []).append((int(match[1]), match[2]))
    return found


def _final_metrics(worker: WorkerProcess) -> str:
    """Every process's counts once the worker has stopped, from its metrics directory."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(worker.metrics_dir))  # type: ignore[no-untyped-call]
    return generate_latest(registry).decode()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("behaviour", ["up", "refuse", "hang", "slow", "unavailable"])
def test_every_span_is_exported_or_counted_lost(
    behaviour: str, livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    rooms = [room_name(f"spans-{behaviour}") for _ in range(_ROOMS)]
    with _endpoint(behaviour, tmp_path) as (endpoint, collector):
        worker = WorkerProcess(
            livekit.url,
            livekit.api_key,
            livekit.api_secret,
            tmp_path / "worker",
            env={
                "AGENT_NAME": AGENT_NAME,
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_EXPORTER_OTLP_TIMEOUT": _EXPORT_TIMEOUT.get(behaviour, "1"),
            },
        )
        with worker:
            asyncio.run(_short_jobs(access, rooms))
            exit_after = _wait_exits(worker, rooms)
            health = _health(worker)
            # the main process exports (or gives up on) what it holds as it stops
            assert worker.stop(timeout=30) == 0
            metrics = _final_metrics(worker)

    ended = value(metrics, "agent_worker_spans_ended_total")
    exported = value(metrics, "agent_worker_spans_exported_total")
    lost = {r: value(metrics, "agent_worker_spans_dropped_total", reason=r) for r in _LOSS_REASONS}
    failures = value(metrics, "agent_worker_span_export_failures_total")

    relayed = value(metrics, "agent_worker_spans_relayed_total")

    # conservation, summed over the job processes and the main process
    assert ended >= 4 * _ROOMS  # a root, its connect, a participant, its shutdown per job
    assert ended == exported + sum(lost.values()), (ended, exported, lost)
    # the job processes handed every span over, whatever the collector did
    assert relayed == ended, (relayed, ended)
    assert lost["handoff_failed"] == lost["queue_full"] == 0, lost

    lines = _lost_lines(worker)
    if behaviour == "up":
        assert exported == ended
        assert collector is not None
        # what the worker counts as exported is what the Collector received
        wait_until(lambda: len(collector.read_spans()) >= exported, 10, what="spans written")
        assert len(collector.read_spans()) == exported
        assert failures == 0
        assert lines == {}
    else:
        assert exported == 0
        assert lost["export_failed"] + lost["export_timeout"] > 0, lost
        assert lost["relay_queue_full"] == 0  # a few spans per job never fill the queue
        if behaviour == "hang":
            # the export in flight when the shutdown flush gave up: failed, and its spans lost
            assert lost["export_timeout"] > 0, lost
        assert failures >= 1
        # the main process lost them, and said so in one line with the count and reasons
        assert list(lines) == ["main"], lines
        [(count, reasons)] = lines["main"]
        assert count == sum(lost.values())
        assert set(re.findall(r"(\w+): \d+", reasons)) <= set(_LOSS_REASONS), reasons

    # a job process no longer waits for the collector: it exits as soon as it handed over
    assert max(exit_after.values()) < _EXIT_BOUND + _EXIT_SLACK, exit_after
    assert health == 200
    assert "Traceback" not in worker.output()
    print(
        f"\n{behaviour}: ended {ended:.0f} = exported {exported:.0f} + lost "
        f"{sum(lost.values()):.0f} { ({k: int(v) for k, v in lost.items() if v}) }; "
        f"export failures {failures:.0f}; job exits "
        f"{max(exit_after.values()):.1f}s after the room ended at most"
    )
