"""The workers under test: the project's worker and the bare baseline, as subprocesses.

Both run through ``devtools.harness.WorkerProcess`` (own process group, own ports, a
log file) in ``dev`` mode, where the SDK never sheds load, so a latency figure measures
the worker and not the load threshold. Both get the same idle process pool and log level.
The project's worker exports its spans over OTLP (http/protobuf, the default) to a real
Collector, or, for the "collector down" figures, to a loopback port where nothing listens,
or, for the "collector hanging" figures, to one that accepts connections and never answers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.affinity import pin_tree
from bench.markers import BARE_CONNECTED, BARE_ENTRYPOINT
from devtools.harness import WorkerProcess, wait_until
from devtools.harness.sdk_logs import PROCESS_INITIALIZED, REGISTERED_WORKER
from devtools.synthetic import ServerAccess
from worker.log_messages import CONNECTED_TO_ROOM, JOB_RECEIVED

__all__ = [
    "BARE",
    "BARE_NATIVE_VAD",
    "OURS",
    "OURS_COLLECTOR_DOWN",
    "OURS_COLLECTOR_HANGING",
    "WorkerKind",
    "active_jobs",
    "line_times",
    "start_worker",
    "stop_worker",
    "wait_no_jobs",
]

IDLE_PROCESSES = 3  # the worker's default (WORKER_NUM_IDLE_PROCESSES)
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})")


@dataclass(frozen=True)
class WorkerKind:
    """How to run one of the compared workers and find its job lines."""

    name: str
    module: str
    entrypoint_line: str
    connected_line: str
    otlp: bool = False
    # which OTLP endpoint: "otlp" (the Collector), "unreachable" or "hanging"
    endpoint: str = "otlp"
    protocol: str = "http/protobuf"
    # variables of its own, on top of what every worker gets
    env: tuple[tuple[str, str], ...] = ()

    @property
    def agent_name(self) -> str:
        """The agent name it registers; two workers may run side by side."""
        return f"bench-{self.name.replace('_', '-')}"


# the worker's lines follow its logging format's " | " separator
OURS_ENTRYPOINT = f"| {JOB_RECEIVED}"
OURS_CONNECTED = f"| {CONNECTED_TO_ROOM}"

BARE = WorkerKind("bare", "bench.baseline", BARE_ENTRYPOINT, BARE_CONNECTED)
# the bare worker with the worker's VAD: what the SDK alone costs with the same prewarm
BARE_NATIVE_VAD = WorkerKind(
    "bare_native_vad",
    "bench.baseline",
    BARE_ENTRYPOINT,
    BARE_CONNECTED,
    env=(("BARE_VAD", "native"),),
)
OURS = WorkerKind("ours", "worker", OURS_ENTRYPOINT, OURS_CONNECTED, otlp=True)
OURS_COLLECTOR_DOWN = WorkerKind(
    "ours_collector_down",
    "worker",
    OURS_ENTRYPOINT,
    OURS_CONNECTED,
    otlp=True,
    endpoint="unreachable",
)
OURS_COLLECTOR_HANGING = WorkerKind(
    "ours_collector_hanging",
    "worker",
    OURS_ENTRYPOINT,
    OURS_CONNECTED,
    otlp=True,
    endpoint="hanging",
)


def _environment(kind: WorkerKind, otlp_endpoint: str) -> dict[str, str]:
    env = {
        # the SDK's load is the CPU use of the whole machine (cgroup), which here includes the
        # load generator and the LiveKit server: counted against 4 CPUs it stays below the
        # server's dispatch threshold (0.7), so the server never stops dispatching to either
        "NUM_CPUS": "4",
        "AGENT_NAME": kind.agent_name,
        "WORKER_NUM_IDLE_PROCESSES": str(IDLE_PROCESSES),
        "LOG_LEVEL": "INFO",
        # the same job as the bare worker's, which ends as soon as its room empties: without
        # this ours stays 20 s in each emptied room (the departure grace period), and its job
        # processes' CPU over those seconds counted as the telemetry's cost
        "AGENT_DEPARTURE_TIMEOUT": "0",
    }
    if kind.otlp:
        env |= {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": kind.protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        }
    return env | dict(kind.env)


def start_worker(
    kind: WorkerKind,
    access: ServerAccess,
    work_dir: Path,
    otlp: str,
    *,
    cpus: frozenset[int] | None = None,
) -> WorkerProcess:
    """Start a worker and wait until it registered and its idle processes are warm.

    Args:
        kind: which worker.
        access: the LiveKit server.
        work_dir: where its log goes.
        otlp: the OTLP endpoint it exports spans to (when it does), for ``kind.protocol``.
        cpus: the CPUs its process tree runs on (None: wherever the bench runs).
    """
    env = _environment(kind, otlp)
    worker = WorkerProcess.serving(access, work_dir, env=env, module=kind.module)
    try:
        worker.start(wait_registered=None)
        if cpus is not None and worker.process is not None:
            pin_tree(worker.process.pid, cpus)
        worker.wait_for_line(REGISTERED_WORKER, timeout=90)
        worker.wait_for_line(PROCESS_INITIALIZED, timeout=90, count=IDLE_PROCESSES)
        if cpus is not None and worker.process is not None:
            # what it started before the first pinning took effect; later forks inherit
            pin_tree(worker.process.pid, cpus)
    except BaseException:
        stop_worker(worker)
        raise
    return worker


def stop_worker(worker: WorkerProcess) -> None:
    """Stop the worker and its whole group, and remove its metrics directory."""
    worker.close(timeout=30)


def active_jobs(worker: WorkerProcess) -> int | None:
    """The running jobs the SDK reports on ``/worker``; None when it does not answer."""
    try:
        response = httpx.get(f"http://127.0.0.1:{worker.health_port}/worker", timeout=5)
        return int(response.json().get("active_jobs", 0))
    except (httpx.HTTPError, ValueError):
        return None


def wait_no_jobs(worker: WorkerProcess, timeout: float) -> None:
    """Wait until the worker runs no job."""
    wait_until(lambda: active_jobs(worker) == 0, timeout, interval=0.25, what="no active jobs")


def _parse_time(line: str) -> float | None:
    match = _TIMESTAMP.match(line)
    if match is None:
        return None
    # the formatters write local time with millisecond resolution
    seconds = time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S"))
    return seconds + int(match[2]) / 1000.0


def line_times(worker: WorkerProcess, marker: str) -> dict[str, float]:
    """Room name → time of the first log line ``<marker>: <room>``."""
    pattern = re.compile(re.escape(marker) + r": (\S+)")
    found: dict[str, float] = {}
    for line in worker.lines():
        match = pattern.search(line)
        if match is None or match[1] in found:
            continue
        stamp = _parse_time(line)
        if stamp is not None:
            found[match[1]] = stamp
    return found
