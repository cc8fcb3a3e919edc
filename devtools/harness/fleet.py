"""Agent workers spread over the nodes of a LiveKit cluster, and which one served a room.

How the cluster picks a worker for a room (livekit-server 1.13, ``pkg/service/
agentservice.go`` and psrpc's affinity selection): the node hosting the room asks every node
over Redis; each node that has workers for the agent answers with an affinity, the sum over
its available workers of ``max(0, target_load - load)`` (``target_load`` 0.7), and the node
with the highest affinity among the answers of the first 200 ms wins. That node then picks
one of its available workers at random, weighted by ``1 - load``. A worker reports its load
twice a second; with ``WORKER_MAX_JOBS`` it is the share of that many jobs it runs, and at
0.7 (the SDK's threshold in production mode) it reports itself full. So an idle node with
two workers wins over one with a single worker until its workers carry 0.7 more load than
the other's; the spread across workers follows the jobs each one runs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from pathlib import Path

from worker.log_messages import JOB_RECEIVED

from .cluster import LiveKitCluster
from .file_sd import write_targets
from .lifecycle import StartStop
from .sdk_logs import REGISTERED_WORKER
from .worker_process import WorkerProcess

__all__ = ["FleetWorker", "WorkerFleet"]


class FleetWorker(WorkerProcess):
    """A worker of the fleet: a ``WorkerProcess`` that knows its name and its node."""

    name: str
    node: int


class WorkerFleet(StartStop):
    """Workers in production mode (``start``), worker ``i`` registered with node ``i % n``.

    Args:
        cluster: The cluster.
        work_dir: One subdirectory per worker goes here.
        size: How many workers ``start()`` starts.
        env: Settings every worker gets (``AGENT_NAME``, ``WORKER_MAX_JOBS``, ``OTEL_*``).
    """

    def __init__(
        self,
        cluster: LiveKitCluster,
        work_dir: Path,
        *,
        size: int = 3,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.work_dir = work_dir
        self.size = size
        self.env = dict(env or {})
        self.workers: list[FleetWorker] = []
        self.retired: list[FleetWorker] = []
        self._count = 0

    def add(self, node: int, *, env: Mapping[str, str] | None = None) -> FleetWorker:
        """A new worker for ``node`` (not started), with the fleet's settings and ``env``."""
        name = f"w{self._count}"
        self._count += 1
        server = self.cluster.nodes[node]
        # every span names its worker, as the Helm chart's pods do with k8s.pod.name
        identity = {"OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={name}"}
        worker = FleetWorker.serving(
            server,
            self.work_dir / name,
            command="start",
            env={**self.env, **identity, **(env or {})},
        )
        worker.name, worker.node = name, node
        self.workers.append(worker)
        return worker

    def start(self) -> None:
        """Starts ``size`` workers at once and waits until every one registered; stops them
        all if one fails (or the wait is interrupted), since ``with`` will not."""
        added = [self.add(i % len(self.cluster.nodes)) for i in range(self.size)]
        try:
            self.start_all(added)
        except BaseException:
            self.stop()
            raise

    def start_all(self, workers: list[FleetWorker], timeout: float = 90.0) -> None:
        """Starts ``workers`` concurrently; returns once all registered."""
        for worker in workers:
            worker.start(wait_registered=None)
        threads = [threading.Thread(target=_wait_registered, args=(w, timeout)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 10)
        for worker in workers:
            _wait_registered(worker, 1.0)  # raises with the worker's output if it did not

    def retire(self, worker: FleetWorker) -> None:
        """Takes a stopped (or killed) worker out of the fleet; it stays readable."""
        self.workers.remove(worker)
        self.retired.append(worker)

    def replace(self, worker: FleetWorker) -> FleetWorker:
        """Retires ``worker`` and starts a new one on the same node, as a rollout does."""
        self.retire(worker)
        fresh = self.add(worker.node)
        self.start_all([fresh])
        return fresh

    def stop(self) -> None:
        """Stops every worker, current and retired, killing what does not exit."""
        for worker in [*self.workers, *self.retired]:
            worker.close()

    def served_by(self, room: str) -> FleetWorker | None:
        """The worker (current or retired) whose job received ``room``, if any."""
        pattern = re.compile(rf"{JOB_RECEIVED}: {re.escape(room)} ")
        for worker in [*self.workers, *self.retired]:
            if any(pattern.search(line) for line in worker.lines()):
                return worker
        return None

    def spread(self, rooms: list[str]) -> dict[str, list[str]]:
        """Rooms by the name of the worker that served them (``""``: none yet)."""
        by_worker: dict[str, list[str]] = {w.name: [] for w in self.workers}
        for room in rooms:
            worker = self.served_by(room)
            by_worker.setdefault(worker.name if worker else "", []).append(room)
        return by_worker

    def write_targets(self, targets_dir: Path) -> None:
        """The file_sd files of the running workers and the nodes, one file per job."""
        write_targets(
            targets_dir / "agent-worker" / "workers.json",
            [
                ([f"127.0.0.1:{w.metrics_port}"], {"worker": w.name, "node": f"node{w.node}"})
                for w in self.workers
            ],
        )
        write_targets(
            targets_dir / "livekit-server" / "nodes.json",
            [
                ([f"127.0.0.1:{n.prometheus_port}"], {"node": f"node{i}"})
                for i, n in enumerate(self.cluster.nodes)
            ],
        )


def _wait_registered(worker: WorkerProcess, timeout: float) -> None:
    worker.wait_for_line(re.escape(REGISTERED_WORKER), timeout=timeout)
