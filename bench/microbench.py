"""Cost of the room handlers per event, as a job process pays it; and the span queue's bound.

``python -m bench.microbench --events N [--otlp-endpoint URL]`` runs in its own process,
set up as a job process is: prometheus_client in multiprocess mode (file-backed values),
the project's tracer provider handing its spans over a Unix socket (to a reader standing for
the main process, which exports them) through its batch processor, and the SDK's
job-process log handler (records pickled and sent over a socket
to a reader, as to the main process) with the trace context filter. The project's
``RoomHandlers`` are registered on a stand-in room, and each participant and track event
is timed around the handler. The bare worker has no handlers, so these times are the whole
per-event cost.

``--queue-check URL`` ends three times the batch queue's size of participant-like spans
with ``URL`` unreachable and reports the Python memory they hold: the queue's bound.

The result is one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import socket
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from devtools.harness import FakeRoom, fake_participant, fake_publication, run_module_json
from telemetry.bootstrap import enable_multiprocess_mode

__all__ = ["main", "run_microbench", "run_queue_check"]

_EVENTS = (
    "participant_connected",
    "track_published",
    "track_unpublished",
    "participant_disconnected",
)
_WARMUP = 200


def _fakes(index: int) -> tuple[Any, Any]:
    participant = fake_participant(f"PA_{index:08d}", f"caller-{index}", name=f"Caller {index}")
    return participant, fake_publication(f"TR_{index:08d}")


def _job_log_handler() -> logging.Handler:
    """The SDK's job-process handler; a forked reader drains the socket as the main process
    does, so no reading thread competes with the handlers for this process's GIL."""
    from livekit.agents.ipc.log_queue import LogQueueHandler
    from livekit.agents.utils.aio import duplex_unix

    job_side, main_side = socket.socketpair()
    if os.fork() == 0:  # the reader: reads until the handler closes its end, then exits
        job_side.close()
        with contextlib.suppress(OSError):
            while main_side.recv(1 << 16):
                pass
        os._exit(0)
    main_side.close()
    return LogQueueHandler(duplex_unix._Duplex.open(job_side))


def _span_reader(path: Path) -> Path:
    """A forked reader that drains the span socket at ``path`` as the main process does."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    if os.fork() == 0:  # accepts one job process's connection, reads it until it closes
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            while connection.recv(1 << 16):
                pass
        os._exit(0)
    listener.close()
    return path


def _tracing(endpoint: str | None, handoff_to: Path | None = None) -> Any:
    from opentelemetry.sdk.resources import Resource
    from prometheus_client import CollectorRegistry

    from telemetry import tracing
    from telemetry.metrics import WorkerMetrics

    exporter = None
    if endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    return tracing.setup_tracing(
        resource=Resource.create({"service.name": "bench-microbench"}),
        exporter=exporter,
        span_counts=WorkerMetrics(CollectorRegistry()),
        allow_pii=True,
        install=False,
        handoff_to=handoff_to,
    )


def _time_events(room: FakeRoom, count: int, offset: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {event: [] for event in _EVENTS}
    clock = time.perf_counter_ns
    for index in range(offset, offset + count):
        participant, publication = _fakes(index)
        calls = (
            ("participant_connected", (participant,)),
            ("track_published", (publication, participant)),
            ("track_unpublished", (publication, participant)),
            ("participant_disconnected", (participant,)),
        )
        for event, args in calls:
            started = clock()
            room.emit(event, *args)
            samples[event].append(clock() - started)
    return samples


def measure_handlers(events: int, spans_socket: Path, *, log_lines: bool) -> dict[str, Any]:
    """Register the real handlers on a stand-in room and time ``events`` sessions."""
    from opentelemetry import trace

    from telemetry.logcontext import install_trace_context_filter
    from telemetry.metrics import get_metrics
    from telemetry.room import RoomObserver
    from worker.handlers import RoomHandlers

    setup = _tracing(None, handoff_to=_span_reader(spans_socket))
    tracer = trace.get_tracer("bench", tracer_provider=setup.provider)
    root = tracer.start_span("job_entrypoint")
    install_trace_context_filter(fallback=root)
    logging.getLogger("worker.handlers").setLevel(logging.INFO if log_lines else logging.WARNING)
    room = FakeRoom()
    observer = RoomObserver(root, tracer, get_metrics())
    handlers = RoomHandlers(
        room,  # type: ignore[arg-type]
        observer,
        allow_pii=True,
        on_disconnected=lambda: None,
    )
    handlers.register()
    _time_events(room, _WARMUP, 0)
    samples = _time_events(room, events, _WARMUP)
    root.end()
    setup.shutdown(5.0)
    return samples


def queue_check(endpoint: str, max_queue: int = 2048) -> dict[str, Any]:
    """Python memory held by spans ended while the exporter cannot reach ``endpoint``."""
    setup = _tracing(endpoint)
    tracer = setup.provider.get_tracer("bench")

    def end_spans(count: int) -> None:
        for index in range(count):
            participant, publication = _fakes(index)
            span = tracer.start_span(
                "participant",
                attributes={"lk.participant_id": participant.sid, "lk.pii.name": participant.name},
            )
            span.add_event("track_published", {"lk.track_sid": publication.sid})
            span.add_event("track_unpublished", {"lk.track_sid": publication.sid})
            span.end()

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    end_spans(max_queue)
    gc.collect()
    after_one = tracemalloc.get_traced_memory()[0] - base
    end_spans(2 * max_queue)
    gc.collect()
    after_three = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    setup.shutdown(timeout_seconds=0.5)  # its export is retrying against nothing: give up
    return {
        "max_queue": max_queue,
        "bytes_after_1x_queue": after_one,
        "bytes_after_3x_queue": after_three,
        "bytes_per_span": round(after_one / max_queue),
    }


def _summary(samples: dict[str, list[int]]) -> dict[str, Any]:
    from bench.stats import percentile

    def us(values: list[float]) -> dict[str, Any]:
        median, p99 = percentile(values, 50), percentile(values, 99)
        return {
            "n": len(values),
            "median_us": None if median is None else round(median, 2),
            "p99_us": None if p99 is None else round(p99, 2),
        }

    result = {event: us([v / 1000 for v in values]) for event, values in samples.items()}
    result["all"] = us([v / 1000 for values in samples.values() for v in values])
    return result


def _subprocess(args: list[str]) -> dict[str, Any]:
    return run_module_json("bench.microbench", *args, timeout=300)


def run_microbench(events: int) -> dict[str, Any]:
    """Time the handlers in a fresh process set up as a job process (see the module)."""
    return _subprocess(["--events", str(events)])


def run_queue_check(unreachable_endpoint: str) -> dict[str, Any]:
    """Memory held by the span queue while the collector cannot be reached."""
    return _subprocess(["--queue-check", unreachable_endpoint])


def main(argv: list[str] | None = None) -> None:
    """Run the measurement the arguments ask for and print JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.microbench")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--queue-check", default=None, metavar="UNREACHABLE_URL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lkw-micro-") as metrics_dir:
        enable_multiprocess_mode(Path(metrics_dir))
        handler = _job_log_handler()
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            result = _run(args, Path(metrics_dir))
        finally:
            # its forwarding thread is not a daemon: the process could not exit otherwise
            root.removeHandler(handler)
            handler.close()
    print(json.dumps(result), flush=True)


def _run(args: argparse.Namespace, metrics_dir: Path) -> dict[str, Any]:
    if args.queue_check:
        return queue_check(args.queue_check)
    return {
        "full": _summary(measure_handlers(args.events, metrics_dir / "a.sock", log_lines=True)),
        "without_log_lines": _summary(
            measure_handlers(args.events, metrics_dir / "b.sock", log_lines=False)
        ),
    }


if __name__ == "__main__":
    main()
