"""Leave the metric files of many finished jobs in a multiprocess directory, cheaply.

``python -m bench.jobfiles DIR COUNT`` forks COUNT short-lived processes, one after
another, from a process that imported prometheus_client in multiprocess mode, as the SDK's
forkserver forks job processes. Each records what a real job process records through the
project's ``WorkerMetrics`` (prewarm, event loop lag samples, the room connection, one
participant with one track, the room's disconnection) and exits, leaving its own
``counter_<pid>.db``, ``histogram_<pid>.db`` and gauge files, as a real job process does.
A real worker's directory after real jobs holds the same files with the same keys; forking
makes 1,000 of them a matter of seconds instead of 1,000 rooms.

Prints one JSON object: jobs, failures, seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from telemetry.bootstrap import enable_multiprocess_mode

__all__ = ["main", "record_one_job"]

# a job that lived ~10 s samples its loop lag every 0.5 s
_LOOP_LAG_SAMPLES = 20


def record_one_job() -> None:
    """Record, in this process, what one real job process records."""
    from prometheus_client import CollectorRegistry

    from telemetry.metrics import WorkerMetrics

    metrics = WorkerMetrics(CollectorRegistry())
    metrics.prewarm_finished(0.06)
    for index in range(_LOOP_LAG_SAMPLES):
        metrics.loop_lag("job", 0.0005 * index)
    metrics.room_connected(0.08)
    metrics.participant_joined("standard")
    metrics.track_published("microphone", "audio")
    metrics.track_unpublished("microphone", "audio")
    metrics.participant_left("standard", "client_initiated")
    metrics.room_disconnected("client_initiated")


def _fork_job() -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            record_one_job()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def main(argv: list[str] | None = None) -> None:
    """Fork the jobs and report."""
    args = argv if argv is not None else sys.argv[1:]
    directory, count = Path(args[0]), int(args[1])
    enable_multiprocess_mode(directory)
    import telemetry.metrics  # noqa: F401  (imported once, before the forks, as in the forkserver)

    started = time.monotonic()
    failures = sum(1 for _ in range(count) if _fork_job() != 0)
    result = {"jobs": count, "failures": failures, "seconds": time.monotonic() - started}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
