"""A fleet on a real LiveKit cluster: two livekit-server nodes sharing one Redis, three workers.

One cluster serves every test of this module, in order: the spread of rooms over the
workers, one Prometheus for the fleet, a drain, a drain that times out, a SIGKILLed worker,
a node restarted, Redis restarted. A test that takes a worker out of the fleet starts its
replacement, as a rollout would, so the next test finds three workers again.

The rooms are the cheapest that keep a job running: one participant that joins and
publishes nothing, until the test makes it leave.
"""

from __future__ import annotations

import contextlib
import re
import signal
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
from devtools.harness.sdk_logs import DRAIN_TIMED_OUT, DRAINING_WORKER
from devtools.synthetic import SyntheticParticipant
from tests.deploy.promql import iter_panel_queries, iter_variable_queries
from worker.log_messages import CONNECTED_TO_ROOM, JOB_SHUTTING_DOWN, REGISTERED_AGAIN

from .conftest import AGENT_NAME

DASHBOARDS = REPO_ROOT / "dashboards"
FLEET_DASHBOARD = DASHBOARDS / "fleet.json"
# load = running jobs / WORKER_MAX_JOBS; a worker reports itself full at 0.7, its 11th job:
# 33 rooms for the fleet. The node with two workers wins every room until they carry 0.7 x 15
# = 10.5 jobs more than the lone worker on the other node, so over 30 rooms the lone worker
# serves about (30 - 10.5) / 2, 9 or 10 (see devtools/harness/fleet.py)
MAX_JOBS = 15
SPREAD_ROOMS = 30
# the SDK reports a worker's load every 0.5 s (livekit.agents.worker.UPDATE_LOAD_INTERVAL)
LOAD_REPORT_S = 0.6
# the time the cluster has to serve rooms again after Redis restarted; measured 1.2 s and
# 2.1 s on the 2-core test machine (README, "Proven on a real cluster")
REDIS_RECOVERY_S = 15.0


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


def _open(
    c: _Cluster, rooms: list[str], *, agent_name: str = AGENT_NAME, first_node: int = 0
) -> None:
    """Room ``i`` created through node ``first_node + i`` (modulo the nodes)'s API, with one
    silent participant there."""
    for index, room in enumerate(rooms):
        access = c.cluster.access((first_node + index) % len(c.cluster.nodes))
        guest = SyntheticParticipant(access, room, f"guest-{room}")
        c.live.open(room, [guest], publish=False, access=access, agent_name=agent_name)


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
    # every room stays until all are served, and the next one is created once the job of the
    # last runs and its worker reported the load (every 0.5 s): each dispatch sees the load
    # of the earlier ones, as when rooms arrive over minutes rather than all at once
    for index, room in enumerate(rooms):
        _open(fleet, [room], first_node=index)
        _served(fleet, [room], timeout=60)
        time.sleep(LOAD_REPORT_S)
    spread = _served(fleet, rooms)
    served_in = time.monotonic() - started
    counts = {name: len(served) for name, served in spread.items()}
    _leave(fleet, rooms)
    for worker in fleet.fleet.workers:
        for room in spread[worker.name]:
            wait_until(lambda w=worker, r=room: _job_ended(w, r), 60, what=f"{room} ended")
    # one Collector for the fleet: each room's trace is found by its name, and names the
    # worker that served it
    for room, root in _traces(fleet.collector, set(rooms), timeout=30).items():
        served_by = fleet.fleet.served_by(room)
        assert served_by is not None
        assert root["resource"]["service.instance.id"] == served_by.name, room
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


# ------------------------------------------------------------------------------------- drain


def _busiest(c: _Cluster, rooms: list[str]) -> tuple[FleetWorker, list[str]]:
    spread = _served(c, rooms)
    worker = max(c.fleet.workers, key=lambda w: len(spread[w.name]))
    return worker, spread[worker.name]


def _connected(worker: FleetWorker, rooms: list[str]) -> None:
    for room in rooms:
        worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(room)} ", timeout=60)


@pytest.mark.timeout(300)
def test_a_draining_worker_takes_no_new_room_and_exits_after_its_last(fleet: _Cluster) -> None:
    rooms = [_room("before-drain") for _ in range(6)]
    _open(fleet, rooms)
    target, its_rooms = _busiest(fleet, rooms)
    assert len(its_rooms) >= 2  # six rooms over three workers
    _connected(target, its_rooms)
    target.descendants()
    target.send(signal.SIGTERM)
    target.wait_for_line(DRAINING_WORKER, timeout=10)

    # at once: new rooms, through both nodes, all go to the other workers
    after = [_room("during-drain") for _ in range(4)]
    _open(fleet, after)
    spread = _served(fleet, after)
    assert spread[target.name] == [], spread
    # its rooms carry on: the jobs are still running while the worker drains
    time.sleep(2)
    assert target.process is not None
    assert target.process.poll() is None
    assert not any(_job_ended(target, room) for room in its_rooms)

    # the rooms end one by one; the worker exits 0 after the last, long before the timeout
    _leave(fleet, its_rooms[:-1])
    time.sleep(2)
    assert target.process.poll() is None, "exited while a room was still running"
    _leave(fleet, its_rooms[-1:])
    last_left = time.monotonic()
    assert target.wait(timeout=60) == 0
    exit_after = time.monotonic() - last_left
    assert exit_after < 30, exit_after
    assert not target.leaked(), "processes of the drained worker left running"
    for room in its_rooms:
        assert _job_ended(target, room), room
    _traces(fleet.collector, set(its_rooms))
    assert "Traceback" not in target.output()
    _leave(fleet, [r for r in rooms + after if r not in its_rooms])

    fresh = fleet.fleet.replace(target)
    fleet.rediscover()
    print(
        f"\ndrain: {len(its_rooms)} rooms finished on {target.name}, new rooms {spread}, "
        f"exit 0 {exit_after:.1f}s after the last room; replaced by {fresh.name}"
    )


@pytest.mark.timeout(200)
def test_a_room_outliving_the_drain_timeout_is_ended_with_its_trace(fleet: _Cluster) -> None:
    # a worker of its own agent name, so that the room is certainly its own
    drain_timeout = 5
    short = fleet.fleet.add(1, env={"AGENT_NAME": "drain-agent", "WORKER_DRAIN_TIMEOUT": "5"})
    fleet.fleet.start_all([short])
    room = _room("outlives")
    _open(fleet, [room], agent_name="drain-agent")
    _connected(short, [room])
    short.descendants()
    signalled = time.monotonic()
    short.send(signal.SIGTERM)
    assert short.wait(timeout=drain_timeout + 30) == 0
    exit_seconds = time.monotonic() - signalled
    exited_ns = time.time_ns()
    assert not short.leaked()
    (root,) = _traces(fleet.collector, {room}).values()
    assert 0 < root["end_time_unix_nano"] <= exited_ns
    assert DRAIN_TIMED_OUT in short.output()
    assert drain_timeout <= exit_seconds < drain_timeout + 15
    fleet.fleet.retire(short)
    _leave(fleet, [room])
    print(f"\ndrain timeout {drain_timeout}s: exit 0 after {exit_seconds:.1f}s, trace exported")


# ------------------------------------------------------------------------------------ faults


@pytest.mark.timeout(300)
def test_a_killed_worker_leaves_the_others_rooms_alone(fleet: _Cluster) -> None:
    rooms = [_room("before-kill") for _ in range(6)]
    _open(fleet, rooms)
    victim, its_rooms = _busiest(fleet, rooms)
    spread = _served(fleet, rooms)
    others = [r for r in rooms if r not in its_rooms]
    assert others
    victim.kill()  # SIGKILL to the worker and every process it started
    # new rooms go to the others
    after = [_room("after-kill") for _ in range(4)]
    _open(fleet, after)
    new_spread = _served(fleet, after)
    assert new_spread[victim.name] == [], new_spread
    # the other workers' rooms are untouched: none of their jobs ended
    time.sleep(2)
    for worker in fleet.fleet.workers:
        if worker is not victim:
            for room in spread[worker.name]:
                assert not _job_ended(worker, room), (worker.name, room)
    _leave(fleet, rooms + after)
    fresh = fleet.fleet.replace(victim)
    fleet.rediscover()
    print(f"\nSIGKILL of {victim.name}: new rooms {new_spread}; replaced by {fresh.name}")


@pytest.mark.timeout(300)
def test_a_restarted_node_gets_its_workers_back(fleet: _Cluster) -> None:
    node = fleet.cluster.nodes[0]
    its_workers = [w for w in fleet.fleet.workers if w.node == 0]
    assert len(its_workers) == 2
    node.stop()  # SIGTERM; livekit-server drains, and is killed after 10 s
    stopped_at = time.monotonic()
    for worker in its_workers:
        wait_until(lambda w=worker: _health(w) == 503, 30, what=f"{worker.name} unhealthy")
    unhealthy_after = time.monotonic() - stopped_at
    # the other node still serves rooms meanwhile
    during = [_room("node-down") for _ in range(2)]
    for room in during:
        access = fleet.cluster.access(1)
        fleet.live.open(
            room, [SyntheticParticipant(access, room, "guest")], publish=False, access=access
        )
    assert set(_served(fleet, during)) - {""} <= {w.name for w in fleet.fleet.workers}
    node.start()
    restarted_at = time.monotonic()
    for worker in its_workers:
        wait_until(lambda w=worker: _health(w) == 200, 60, what=f"{worker.name} healthy")
        worker.wait_for_line(REGISTERED_AGAIN, timeout=10)
    healthy_after = time.monotonic() - restarted_at
    # they serve new rooms: open rooms until each of them got one (node 0 wins while idle)
    fresh: list[str] = []
    for index in range(12):
        room = _room("node-back")
        _open(fleet, [room], first_node=index)
        fresh.append(room)
        spread = _served(fleet, fresh)
        if all(spread[w.name] for w in its_workers):
            break
    assert all(spread[w.name] for w in its_workers), spread
    _leave(fleet, during + fresh)
    print(
        f"\nnode restart: its workers unhealthy {unhealthy_after:.1f}s after the stop, "
        f"registered again {healthy_after:.1f}s after the start; new rooms {spread}"
    )


@pytest.mark.timeout(300)
def test_the_cluster_serves_rooms_again_soon_after_redis_restarts(fleet: _Cluster) -> None:
    redis = fleet.cluster.redis
    redis.stop()
    redis.start()
    restarted = time.monotonic()
    served_in = None
    attempts = 0
    deadline = restarted + REDIS_RECOVERY_S
    while time.monotonic() < deadline:
        attempts += 1
        room = _room("after-redis")
        try:
            _open(fleet, [room])
            _served(fleet, [room], timeout=5)
        except Exception:  # the API or the dispatch fails until the cluster recovers
            with contextlib.suppress(Exception):
                fleet.live.leave(room)
            time.sleep(0.5)
            continue
        served_in = time.monotonic() - restarted
        fleet.live.leave(room)
        break
    assert served_in is not None, f"no room served within {REDIS_RECOVERY_S}s of the restart"
    # and both nodes' APIs again
    again = [_room("after-redis") for _ in range(4)]
    _open(fleet, again)
    _served(fleet, again)
    _leave(fleet, again)
    print(f"\nRedis restart: a room served {served_in:.1f}s after it ({attempts} attempt(s))")


# ------------------------------------------------------------------------------- discovery


@pytest.mark.timeout(120)
def test_prometheus_follows_the_replaced_workers_through_the_files(fleet: _Cluster) -> None:
    # the drain and the SIGKILL tests replaced two workers and rewrote the targets file
    assert len(fleet.fleet.retired) >= 2
    current = {f"127.0.0.1:{w.metrics_port}" for w in fleet.fleet.workers}
    gone = {f"127.0.0.1:{w.metrics_port}" for w in fleet.fleet.retired}

    def scraped() -> set[str] | None:
        active = fleet.prometheus.wait_for_targets_up(timeout=30)
        found = {t["labels"]["instance"] for t in active if t["labels"]["job"] == "agent-worker"}
        return found if found == current else None

    found = wait_until(scraped, 30, what="the current workers and only them scraped")
    assert not found & gone
