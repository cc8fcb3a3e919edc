"""The servers a bench run measures against, on loopback: LiveKit, a Collector, and the
two broken collector endpoints (down and hanging); the bench's CPUs pinned apart."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.affinity import available_cpus, pin_bench
from bench.dispatch import RunTarget
from bench.workers import WorkerKind
from devtools.harness import LiveKitServer, OtelCollector, free_port
from devtools.synthetic import ServerAccess

__all__ = ["bench_servers", "run_targets"]


@contextlib.contextmanager
def _hanging_endpoint() -> Iterator[str]:
    """A loopback port that accepts connections (the kernel completes them while it listens)
    and never answers: a Collector that hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@contextlib.contextmanager
def bench_servers(
    work_dir: Path, method: dict[str, Any], say: Callable[[str], None]
) -> Iterator[dict[str, Any]]:
    """Start livekit-server and the Collector, pin them (together) and this process apart
    from the workers' CPUs (recorded in ``method["affinity"]``), and yield what the runs
    need.

    Yields:
        ``access`` (the LiveKit server), the OTLP endpoints ``otlp`` (the Collector),
        ``unreachable`` (nothing listens: down) and ``hanging``, livekit-server's ``pid``,
        and ``worker_cpus`` (None where the machine has too few CPUs to pin). The bench
        process's own affinity is restored on the way out.
    """
    original_cpus = available_cpus()
    say("starting livekit-server and the OpenTelemetry Collector (loopback)")
    with (
        LiveKitServer(work_dir / "livekit") as livekit,
        OtelCollector(work_dir / "collector") as collector,
        _hanging_endpoint() as hanging,
    ):
        pinning = pin_bench(livekit.pid, say, collector_pid=collector.pid)
        method["affinity"] = pinning.as_dict() if pinning else None
        try:
            yield {
                "access": ServerAccess(livekit.url, livekit.api_key, livekit.api_secret),
                "otlp": collector.otlp_http_endpoint,
                # a loopback port nothing listens on: the collector is "down"
                "unreachable": f"http://127.0.0.1:{free_port()}",
                "hanging": hanging,
                "pid": livekit.pid,
                "worker_cpus": pinning.worker if pinning else None,
            }
        finally:
            os.sched_setaffinity(0, original_cpus)


def run_targets(
    kinds: tuple[WorkerKind, ...], servers: dict[str, Any], work_dir: Path
) -> dict[str, RunTarget]:
    """Per worker, where it runs: the servers, its OTLP endpoint, a log directory, its CPUs."""
    return {
        kind.name: RunTarget(
            servers["access"],
            work_dir / f"workers-{kind.name}",
            servers[kind.endpoint],
            servers["pid"],
            servers["worker_cpus"],
        )
        for kind in kinds
    }
