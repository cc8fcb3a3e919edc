"""``python -m bench.fleet [--out DIR]``: a fleet on a cluster against one worker on one node.

Two setups, one after the other, each on its own servers: one worker registered with a
one-node LiveKit cluster, and three workers on a two-node cluster (worker ``i`` on node
``i % 2``). Both clusters keep their state in Redis, so the only difference is the number of
nodes and workers. Every worker runs in production mode (``start``) with
``WORKER_MAX_JOBS=8``: its load is its running jobs / 8, and at 0.7 (6 jobs) it reports
itself full, so a fleet's capacity is what LiveKit's dispatch makes of every worker's slots.

- *Dispatch latency*: from just before the API call that creates the room and dispatches the
  agent to the agent's join as the server records it, for rooms one at a time
  (each ends before the next), and along the ramp below (rooms kept live).
- *Capacity*: rooms created one by one, through the nodes in turn, each kept live, until
  one gets no agent within 10 s (or 30 rooms): the rooms served before it.

Writes ``fleet.json`` and ``fleet.md`` to ``bench/results/`` (or ``--out``) and, for the
default directory, the README's fleet figures. Loopback only; about 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit import api

from bench.fleet_report import embed_fleet, render_fleet
from bench.load import agent_joined_at
from bench.machine import describe_machine
from bench.progress import Progress
from bench.published import RESULTS_DIR, write_results
from bench.session import run_session
from bench.stats import summarize
from devtools.harness import LiveKitCluster, WorkerFleet
from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch

__all__ = ["SETUPS", "main", "run_fleet_bench"]

AGENT_NAME = "bench-fleet"
MAX_JOBS = 8
SEQUENTIAL_ROOMS = 10
RAMP_LIMIT = 30
AGENT_TIMEOUT_S = 10.0
# the SDK reports a worker's load every 0.5 s; the next room waits for the report
LOAD_REPORT_S = 0.6
SETUPS = (("single", 1, 1), ("fleet", 2, 3))
"""``(name, nodes, workers)``."""


async def _timed_room(
    access: ServerAccess, lkapi: api.LiveKitAPI, room: str
) -> tuple[SyntheticParticipant, float | None]:
    """Create and dispatch ``room``, a participant joins; seconds until the agent joined.

    The agent's join time is the server's record (a client sees the agent participant only
    about 3 s later, whatever the dispatch took), on the same clock as the start.
    """
    started = time.time()
    await create_dispatch(access, room, AGENT_NAME)
    guest = SyntheticParticipant(access, room, "caller")
    await guest.join()
    deadline = time.monotonic() + AGENT_TIMEOUT_S
    while time.monotonic() < deadline:
        joined = await agent_joined_at(lkapi, room)
        if joined is not None:
            return guest, max(joined - started, 0.0)
        await asyncio.sleep(0.05)
    return guest, None


def _api(cluster: LiveKitCluster) -> api.LiveKitAPI:
    access = cluster.access(0)
    return api.LiveKitAPI(access.http_url, access.api_key, access.api_secret)


async def _one_at_a_time(cluster: LiveKitCluster, count: int) -> list[float]:
    latencies = []
    async with _api(cluster) as lkapi:
        for index in range(count):
            access = cluster.access(index % len(cluster.nodes))
            guest, latency = await _timed_room(access, lkapi, f"seq-{uuid.uuid4().hex[:8]}")
            await guest.leave()
            if latency is not None:
                latencies.append(latency)
            await asyncio.sleep(1.5)  # the job ends and the idle process is replaced
    return latencies


async def _ramp(cluster: LiveKitCluster) -> tuple[list[float], list[str]]:
    """Rooms kept live until one gets no agent; their latencies and names."""
    guests: list[SyntheticParticipant] = []
    latencies: list[float] = []
    rooms: list[str] = []
    try:
        async with _api(cluster) as lkapi:
            for index in range(RAMP_LIMIT):
                access = cluster.access(index % len(cluster.nodes))
                room = f"ramp-{uuid.uuid4().hex[:8]}"
                guest, latency = await _timed_room(access, lkapi, room)
                guests.append(guest)
                if latency is None:
                    break
                latencies.append(latency)
                rooms.append(room)
                await asyncio.sleep(LOAD_REPORT_S)
    finally:
        await asyncio.gather(*(g.leave() for g in guests), return_exceptions=True)
    return latencies, rooms


def _measure(
    name: str, nodes: int, workers: int, work_dir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    env = {"AGENT_NAME": AGENT_NAME, "WORKER_MAX_JOBS": str(MAX_JOBS)}
    with (
        LiveKitCluster(work_dir / name, nodes=nodes) as cluster,
        WorkerFleet(cluster, work_dir / name / "workers", size=workers, env=env) as fleet,
    ):
        say(f"{name}: {workers} worker(s) on {nodes} node(s) registered")
        asyncio.run(_one_at_a_time(cluster, 1))  # warm-up
        sequential = asyncio.run(_one_at_a_time(cluster, SEQUENTIAL_ROOMS))
        say(f"{name}: {len(sequential)}/{SEQUENTIAL_ROOMS} rooms one at a time")
        ramp, served = asyncio.run(_ramp(cluster))
        spread = {w: len(r) for w, r in fleet.spread(served).items()}
        say(f"{name}: capacity {len(served)} rooms, by worker {spread}")
    return {
        "nodes": nodes,
        "workers": workers,
        "one_at_a_time": {**summarize(sequential), "served": len(sequential)},
        "ramp": summarize(ramp),
        "capacity_rooms": len(served),
        "capacity_by_worker": spread,
        "ramp_stopped_by": "a room without an agent" if len(served) < RAMP_LIMIT else "the limit",
    }


def run_fleet_bench(work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Both setups; the results as ``fleet.json`` holds them."""
    started = time.monotonic()
    setups = {name: _measure(name, n, w, work_dir, say) for name, n, w in SETUPS}
    return {
        "machine": describe_machine(),
        "method": {
            "max_jobs": MAX_JOBS,
            "load_threshold": 0.7,
            "idle_processes": 1,
            "sequential_rooms": SEQUENTIAL_ROOMS,
            "ramp_limit": RAMP_LIMIT,
            "agent_timeout_s": AGENT_TIMEOUT_S,
        },
        "setups": setups,
        "duration_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the fleet bench; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=None, help="where fleet.json/.md go")
    args = parser.parse_args(argv)
    out: Path = args.out or RESULTS_DIR
    say = Progress()

    def body(work_dir: Path) -> dict[str, Any]:
        results = run_fleet_bench(work_dir, say)
        write_results(out, "fleet", results, render_fleet, embed_fleet)
        say(f"wrote {out / 'fleet.json'} and fleet.md")
        return results

    return run_session("fleet bench", body, say, prefix="lkw-bench-fleet-")


if __name__ == "__main__":
    raise SystemExit(main())
