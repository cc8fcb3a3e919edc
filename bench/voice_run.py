"""The voice bench's runs: servers up, CPUs split, rounds within the time budget.

Each round runs both workers one after the other (bare then ours, the next round the other
way round), each for ``rooms`` conversations one room at a time, against provider fakes
that this process runs next to the speaking participant. Rounds go on past the minimum
while a target's interval is INCONCLUSIVE and one more round, as long as the slowest so far,
fits in the time budget (``bench.confidence.more_rounds``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.affinity import available_cpus, pin_bench, pin_tree
from bench.confidence import more_rounds_said
from bench.machine import describe_machine
from bench.proctree import cpu_snapshot
from bench.voice_targets import VoiceRun, evaluate_voice_targets, voice_figures, voice_verdicts
from bench.workers import stop_worker, wait_no_jobs
from devtools.demo_voice import FakePorts, converse_in_room, running_fakes
from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess, free_ports
from devtools.synthetic import ServerAccess

__all__ = ["VoiceConfig", "run_voice_bench"]

_VARIANTS = {"bare": "bench.voice_baseline", "ours": "worker"}
_IDLE = 1
_CONVERSATION_TIMEOUT_S = 180
_DRAIN_TIMEOUT_S = 60
# the fakes' delays, those of the end-to-end voice test (``tests/e2e/test_voice_live.py``)
_FAKE_DELAYS = {"llm_ttft": 0.3, "tts_ttfb": 0.2, "stt_final": 0.15}


@dataclass(frozen=True)
class VoiceConfig:
    """How much the voice bench does; every loop is bounded by these.

    Attributes:
        rounds: rounds at least (each runs both workers once).
        rooms: conversations per run, one room at a time.
        max_rounds: rounds at most.
        time_budget: seconds within which another round must end to be started.
    """

    rounds: int
    rooms: int
    max_rounds: int
    time_budget: float


@dataclass(frozen=True)
class _Servers:
    access: ServerAccess
    otlp: str
    worker_cpus: frozenset[int] | None


def _start(
    name: str, agent: str, servers: _Servers, work: Path, env: dict[str, str]
) -> WorkerProcess:
    worker = WorkerProcess(
        servers.access.url,
        servers.access.api_key,
        servers.access.api_secret,
        work / agent,
        env={**env, "AGENT_NAME": agent, "WORKER_NUM_IDLE_PROCESSES": str(_IDLE)},
        module=_VARIANTS[name],
    )
    try:
        worker.start(wait_registered=None)
        _pin_worker(worker, servers.worker_cpus)
        worker.wait_for_line(r"registered worker", timeout=90)
        worker.wait_for_line(r"process initialized", timeout=90, count=_IDLE)
        # what it started before the first pinning took effect; later forks inherit it
        _pin_worker(worker, servers.worker_cpus)
    except BaseException:
        stop_worker(worker)
        raise
    return worker


def _pin_worker(worker: WorkerProcess, cpus: frozenset[int] | None) -> None:
    if cpus is not None and worker.process is not None:
        pin_tree(worker.process.pid, cpus)


async def _conversations(
    access: ServerAccess, ports: FakePorts, agent: str, rooms: int
) -> list[float]:
    e2e = []
    async with running_fakes(ports, **_FAKE_DELAYS):
        for _ in range(rooms):
            room = f"bench-voice-{uuid.uuid4().hex[:8]}"
            exchanges = await asyncio.wait_for(
                converse_in_room(access, room, agent), _CONVERSATION_TIMEOUT_S
            )
            e2e += [e.agent_start - e.speech_end for e in exchanges if e.agent_start]
    return e2e


def _run(name: str, servers: _Servers, work: Path, rooms: int) -> VoiceRun:
    started = time.monotonic()
    ports = FakePorts(*free_ports(3))
    # a fresh agent name per run: the server may still hold the previous run's worker
    agent = f"bench-voice-{name}-{uuid.uuid4().hex[:6]}"
    env = ports.worker_env()
    if name == "ours":
        env |= {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": servers.otlp}
    worker = _start(name, agent, servers, work, env)
    try:
        assert worker.process is not None
        before = cpu_snapshot(worker.process.pid).total
        e2e = asyncio.run(_conversations(servers.access, ports, agent, rooms))
        wait_no_jobs(worker, _DRAIN_TIMEOUT_S)
        cpu = cpu_snapshot(worker.process.pid).total - before
    finally:
        stop_worker(worker)
    return VoiceRun(tuple(e2e), cpu, time.monotonic() - started)


def _another_round(
    config: VoiceConfig,
    runs: dict[str, list[VoiceRun]],
    elapsed: float,
    slowest: float,
    say: Callable[[str], None],
) -> bool:
    return more_rounds_said(
        voice_verdicts(runs["ours"], runs["bare"]),
        elapsed=elapsed,
        seconds_per_round=slowest,
        budget=config.time_budget,
        rounds=len(runs["bare"]),
        max_rounds=config.max_rounds,
        say=say,
    )


def _rounds(
    config: VoiceConfig, servers: _Servers, work: Path, say: Callable[[str], None], started: float
) -> dict[str, list[VoiceRun]]:
    runs: dict[str, list[VoiceRun]] = {name: [] for name in _VARIANTS}
    slowest = 0.0
    index = 0
    while index < config.rounds or _another_round(
        config, runs, time.monotonic() - started, slowest, say
    ):
        round_started = time.monotonic()
        order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
        for name in order:
            say(f"round {index + 1} (at least {config.rounds}): {name}, {config.rooms} room(s)")
            done = _run(name, servers, work / f"r{index}", config.rooms)
            runs[name].append(done)
            say(f"round {index + 1}: {name}, {len(done.e2e)} turns, {done.cpu_s:.2f} CPU s")
        slowest = max(slowest, time.monotonic() - round_started)
        index += 1
    return runs


def _method(config: VoiceConfig, affinity: dict[str, list[int]] | None) -> dict[str, Any]:
    return {
        "rounds": config.rounds,
        "max_rounds": config.max_rounds,
        "time_budget_s": config.time_budget,
        "rooms_per_run": config.rooms,
        "order": "alternating: bare then ours, the next round ours then bare",
        "confidence": "95 % percentile bootstrap, 2000 resamples: over the turns for "
        "latency, over the rounds (paired) for CPU per turn",
        "provider_fakes_s": dict(_FAKE_DELAYS),
        "workers": {"mode": "dev", "idle_processes": _IDLE},
        "affinity": affinity,
    }


def run_voice_bench(config: VoiceConfig, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the rounds of ``config``; returns the results with the targets judged."""
    started = time.monotonic()
    original_cpus = available_cpus()
    with LiveKitServer(work / "livekit") as livekit, OtelCollector(work / "collector") as otel:
        pinning = pin_bench(livekit.pid, say, collector_pid=otel.pid)
        servers = _Servers(
            ServerAccess(livekit.url, livekit.api_key, livekit.api_secret),
            otel.otlp_http_endpoint,
            pinning.worker if pinning else None,
        )
        try:
            runs = _rounds(config, servers, work, say, started)
        finally:
            os.sched_setaffinity(0, original_cpus)
    return {
        "schema": 1,
        "machine": describe_machine(),
        "method": _method(config, pinning.as_dict() if pinning else None)
        | {"rounds_run": len(runs["bare"])},
        "figures": voice_figures(runs),
        "targets": evaluate_voice_targets(runs["ours"], runs["bare"]),
        "runs": {name: [run.as_dict() for run in done] for name, done in runs.items()},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
    }
