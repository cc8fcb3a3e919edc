"""``python -m bench.voice``: what the project's voice telemetry costs a spoken conversation.

Two workers run the same voice pipeline against the same local provider fakes and hear the
same espeak-ng conversation (``devtools.demo_voice``: four turns, one interruption), one
after the other, alternating over rounds: the worker with everything the project adds
(``VOICE_PIPELINE=on``, spans exported to a real Collector, live metrics) and
``bench.voice_baseline``, the same session with none of it. Compared: the end-to-end
latency of each turn as the participant hears it (its speech end → the agent's first audio)
at p50 and p95, and the CPU time of the worker's process tree per turn. Targets: added
latency ≤ 3 % at p50 and p95, CPU per turn ≤ 1.03 times; printed PASS/FAIL like the bench's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.proctree import cpu_snapshot
from bench.stats import ratio, summarize
from bench.workers import stop_worker, wait_no_jobs
from devtools.demo_voice import FakePorts, converse_in_room, running_fakes
from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess, free_ports
from devtools.synthetic import ServerAccess

__all__ = ["main", "run_voice_bench"]

LATENCY_RATIO_MAX = 1.03
CPU_RATIO_MAX = 1.03
_VARIANTS = {"bare": "bench.voice_baseline", "ours": "worker"}
_IDLE = 1


def _start(
    name: str, agent: str, access: ServerAccess, work: Path, env: dict[str, str]
) -> WorkerProcess:
    worker = WorkerProcess(
        access.url,
        access.api_key,
        access.api_secret,
        work / agent,
        env={**env, "AGENT_NAME": agent, "WORKER_NUM_IDLE_PROCESSES": str(_IDLE)},
        module=_VARIANTS[name],
    )
    try:
        worker.start(wait_registered=None)
        worker.wait_for_line(r"registered worker", timeout=90)
        worker.wait_for_line(r"process initialized", timeout=90, count=_IDLE)
    except BaseException:
        stop_worker(worker)
        raise
    return worker


async def _conversations(
    access: ServerAccess, ports: FakePorts, agent: str, rooms: int
) -> list[float]:
    e2e = []
    async with running_fakes(ports):
        for _ in range(rooms):
            room = f"bench-voice-{uuid.uuid4().hex[:8]}"
            exchanges = await asyncio.wait_for(converse_in_room(access, room, agent), 180)
            e2e += [e.agent_start - e.speech_end for e in exchanges if e.agent_start]
    return e2e


def _run(
    name: str, access: ServerAccess, work: Path, env: dict[str, str], rooms: int
) -> dict[str, Any]:
    ports = FakePorts(*free_ports(3))
    # a fresh agent name per run: the server may still hold the previous run's worker
    agent = f"bench-voice-{name}-{uuid.uuid4().hex[:6]}"
    worker = _start(name, agent, access, work, {**env, **ports.worker_env()})
    try:
        assert worker.process is not None
        before = cpu_snapshot(worker.process.pid).total
        e2e = asyncio.run(_conversations(access, ports, agent, rooms))
        wait_no_jobs(worker, 60)
        cpu = cpu_snapshot(worker.process.pid).total - before
    finally:
        stop_worker(worker)
    return {"e2e": e2e, "cpu_s": cpu, "turns": len(e2e)}


def _target(name: str, value: float | None, limit: float) -> dict[str, Any]:
    verdict = "PASS" if value is not None and value <= limit else "FAIL"
    return {"name": name, "value": value, "op": "<=", "limit": limit, "verdict": verdict}


def run_voice_bench(rounds: int, rooms: int, work: Path) -> dict[str, Any]:
    """Alternate the two workers over ``rounds`` (``rooms`` conversations each per round)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in _VARIANTS}
    with LiveKitServer(work / "livekit") as livekit, OtelCollector(work / "collector") as otel:
        access = ServerAccess(livekit.url, livekit.api_key, livekit.api_secret)
        ours_env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otel.otlp_http_endpoint,
        }
        for index in range(rounds):
            order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
            for name in order:
                runs[name].append(
                    _run(name, access, work, ours_env if name == "ours" else {}, rooms)
                )
    figures = {}
    for name, done in runs.items():
        e2e = [v for run in done for v in run["e2e"]]
        turns = sum(run["turns"] for run in done)
        figures[name] = {
            "e2e_s": summarize(e2e),
            "cpu_per_turn_s": round(sum(run["cpu_s"] for run in done) / max(turns, 1), 4),
        }
    ours, bare = figures["ours"], figures["bare"]
    targets = [
        _target(
            "Voice: e2e latency p50, ours / bare",
            ratio(ours["e2e_s"]["p50"], bare["e2e_s"]["p50"]),
            LATENCY_RATIO_MAX,
        ),
        _target(
            "Voice: e2e latency p95, ours / bare",
            ratio(ours["e2e_s"]["p95"], bare["e2e_s"]["p95"]),
            LATENCY_RATIO_MAX,
        ),
        _target(
            "Voice: CPU per turn, ours / bare",
            ratio(ours["cpu_per_turn_s"], bare["cpu_per_turn_s"]),
            CPU_RATIO_MAX,
        ),
    ]
    return {"rounds": rounds, "rooms_per_run": rooms, "figures": figures, "targets": targets}


def main(argv: list[str] | None = None) -> int:
    """Run the voice bench and print its figures and verdicts; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.voice")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=2, help="conversations per run")
    parser.add_argument("--out", type=Path, default=None, help="write the results JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20 or not 1 <= args.rooms <= 10:
        print("error: 1-20 rounds of 1-10 rooms", flush=True)
        return 2
    results = run_voice_bench(args.rounds, args.rooms, Path(tempfile.mkdtemp(prefix="lkw-voice-")))
    text = json.dumps(results, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    for target in results["targets"]:
        limit = f"{target['op']} {target['limit']:g}"
        print(f"{target['verdict']}: {target['name']} = {target['value']} ({limit})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
