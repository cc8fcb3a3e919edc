"""A fleet on a real LiveKit cluster: two livekit-server nodes sharing one Redis, three workers.

One cluster serves every test of this module, in order: the spread of rooms over the
workers, one Prometheus for the fleet, a drain, a drain that times out, a SIGKILLed worker,
a node restarted, Redis restarted. A test that takes a worker out of the fleet starts its
replacement, as a rollout would, so the next test finds three workers again.

The rooms are the cheapest that keep a job running: one participant that joins and
publishes nothing, until the test makes it leave.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.harness import (
    REPO_ROOT,
    FleetWorker,
    LiveKitCluster,
    LiveRooms,
    OtelCollector,
    Prometheus,
    Span,
    WorkerFleet,
    fleet_config,
    wait_until,
)
from devtools.synthetic import SyntheticParticipant
from tests.deploy.promql import iter_panel_queries, iter_variable_queries
from worker.log_messages import JOB_SHUTTING_DOWN

from .conftest import AGENT_NAME

DASHBOARDS = REPO_ROOT / "dashboards"
FLEET_DASHBOARD = DASHBOARDS / "fleet.json"
# load = running jobs / WORKER_MAX_JOBS; a worker reports itself full at 0.7, 14 jobs
MAX_JOBS = 20
SPREAD_ROOMS = 30
# the time the cluster has to serve rooms again after Redis restarted (measured: see README)
REDIS_RECOVERY_S = 30.0


@dataclass
class _Cluster:
    cluster: LiveKitCluster
    fleet: WorkerFleet
    collector: OtelCollector
    prometheus: Prometheus
    targets_dir: Path
    live: LiveRooms

    def rediscover(self) -> None:
        """Write the file_sd targets of the current workers, as a deployment tool would."""
        self.fleet.write_targets(self.targets_dir)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Cluster]:
    work = tmp_path_factory.mktemp("cluster")
    with OtelCollector(work / "collector") as collector, LiveKitCluster(work) as cluster:
        env = {
            "AGENT_NAME": AGENT_NAME,
            "WORKER_MAX_JOBS": str(MAX_JOBS),
            "WORKER_DRAIN_TIMEOUT": "120",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
        }
        with WorkerFleet(cluster, work / "workers", size=3, env=env) as workers:
            targets = work / "targets"
            workers.write_targets(targets)
            prometheus = Prometheus(
                work / "prometheus",
                [],
                config=fleet_config(targets),
                expected_targets=len(workers.workers) + len(cluster.nodes),
            )
            with prometheus, LiveRooms(cluster.access(0), AGENT_NAME) as live:
                yield _Cluster(cluster, workers, collector, prometheus, targets, live)


def _room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _open(c: _Cluster, rooms: list[str], *, agent_name: str = AGENT_NAME) -> None:
    """Each room created through node ``i % 2``'s API, with one silent participant there."""
    for index, room in enumerate(rooms):
        access = c.cluster.access(index % len(c.cluster.nodes))
        guest = SyntheticParticipant(access, room, f"guest-{room}")
        c.live.agent_name = agent_name
        try:
            c.live.open(room, [guest], publish=False, access=access)
        finally:
            c.live.agent_name = AGENT_NAME


def _served(c: _Cluster, rooms: list[str], timeout: float = 90.0) -> dict[str, list[str]]:
    def all_served() -> dict[str, list[str]] | None:
        spread = c.fleet.spread(rooms)
        return None if spread.get("") else spread

    try:
        found: dict[str, list[str]] = wait_until(all_served, timeout, interval=0.5)
    except TimeoutError:
        raise AssertionError(f"rooms without an agent: {c.fleet.spread(rooms).get('')}") from None
    return found


def _health(worker: FleetWorker) -> int:
    try:
        return httpx.get(worker.health_url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _roots(collector: OtelCollector, rooms: set[str]) -> dict[str, Span]:
    return {
        span["attributes"]["lk.pii.room_name"]: span
        for span in collector.read_spans()
        if span["name"] == "job_entrypoint" and span["attributes"].get("lk.pii.room_name") in rooms
    }


def _traces(collector: OtelCollector, rooms: set[str], timeout: float = 20) -> dict[str, Span]:
    found: dict[str, Span] = wait_until(
        lambda: (roots := _roots(collector, rooms)) and len(roots) == len(rooms) and roots,
        timeout,
        what=f"job_entrypoint spans of {sorted(rooms)}",
    )
    for room, root in found.items():
        names = {s["name"] for s in collector.read_spans() if s["trace_id"] == root["trace_id"]}
        assert "job_shutdown" in names, (room, names)
    return found


def _job_ended(worker: FleetWorker, room: str) -> bool:
    pattern = re.compile(rf"{JOB_SHUTTING_DOWN} .*\| room={re.escape(room)} ")
    return any(pattern.search(line) for line in worker.lines())


def _leave(c: _Cluster, rooms: list[str]) -> None:
    for room in rooms:
        c.live.leave(room)


# ------------------------------------------------------------------------------------ spread


@pytest.mark.timeout(400)
def test_rooms_through_either_node_are_spread_over_every_worker(fleet: _Cluster) -> None:
    # the premise: three workers, on both nodes
    assert {w.node for w in fleet.fleet.workers} == {0, 1}
    assert all(_health(w) == 200 for w in fleet.fleet.workers)
    rooms = [_room("spread") for _ in range(SPREAD_ROOMS)]
    started = time.monotonic()
    # every room stays until all are served, so each dispatch sees the load of the earlier
    _open(fleet, rooms)
    spread = _served(fleet, rooms, timeout=180)
    served_in = time.monotonic() - started
    counts = {name: len(served) for name, served in spread.items()}
    _leave(fleet, rooms)
    for worker in fleet.fleet.workers:
        for room in spread[worker.name]:
            wait_until(lambda w=worker, r=room: _job_ended(w, r), 60, what=f"{room} ended")
    print(f"\n{SPREAD_ROOMS} rooms through two nodes served in {served_in:.0f}s: {counts}")
    assert sum(counts.values()) == SPREAD_ROOMS
    assert min(counts.values()) >= SPREAD_ROOMS * 0.2, counts


# ----------------------------------------------------------------------- fleet Prometheus


@pytest.mark.timeout(200)
def test_one_prometheus_discovers_the_fleet_and_every_fleet_query_has_data(
    fleet: _Cluster,
) -> None:
    prometheus = fleet.prometheus
    prometheus.expected_targets = len(fleet.fleet.workers) + len(fleet.cluster.nodes)
    active = prometheus.wait_for_targets_up(timeout=60)
    by_job: dict[str, set[str]] = {}
    for target in active:
        by_job.setdefault(target["labels"]["job"], set()).add(target["labels"]["instance"])
    workers = {f"127.0.0.1:{w.metrics_port}" for w in fleet.fleet.workers}
    nodes = {f"127.0.0.1:{n.prometheus_port}" for n in fleet.cluster.nodes}
    assert by_job == {"agent-worker": workers, "livekit-server": nodes}

    # the dashboards' instance variable lists every worker
    wait_until(
        lambda: prometheus.query('count(agent_worker_build_info{job="agent-worker"}) == 3'),
        30,
        what="every worker's build_info scraped",
    )
    for path in sorted(DASHBOARDS.glob("*.json")):
        for variable in iter_variable_queries(path):
            if variable.name != "instance":
                continue
            found = {
                r["metric"].get("instance")
                for r in prometheus.query(f"count by (instance) ({variable.selector})")
            }
            expected = workers if "agent_worker" in variable.selector else nodes
            assert expected <= found, (variable.dashboard, variable.selector, found)

    # every fleet query returns data, with the spread test's jobs within the rate window
    queries = list(iter_panel_queries(FLEET_DASHBOARD, extra={}))
    assert len(queries) >= 6
    empty = [f"{q.panel}: {q.expr}" for q in queries if not prometheus.query(q.expr)]
    assert not empty, "fleet panels without data:\n" + "\n".join(empty)
    spread = prometheus.query("sum by (instance) (increase(agent_worker_jobs_accepted_total[10m]))")
    assert {r["metric"]["instance"] for r in spread} == workers
    # the fleet alert rules are loaded and evaluated
    groups = prometheus.rule_groups()
    fleet_rules = [r for g in groups if g["name"] == "agent-worker.fleet" for r in g["rules"]]
    assert len(fleet_rules) == 3
    assert all(r["health"] == "ok" for r in fleet_rules), fleet_rules
