"""A provider failure in a real voice session: recorded, counted, logged once, the room ended.

The OpenAI fake refuses the key (401, which the plugin does not retry) while a participant
speaks four phrases in a first room: each turn's LLM request fails, and after the SDK's
``max_unrecoverable_errors`` (3) it closes the session, which ends that job. Then the fake
answers again and a second room on the same worker holds a normal turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from devtools.demo_voice import PHRASES, FakePorts, running_fakes
from devtools.fakes import FakeLLM, FaultPlan
from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess, free_ports
from devtools.speaking import Exchange, SpeakingParticipant
from devtools.speech import speak
from devtools.synthetic import ServerAccess, create_dispatch

from .conftest import AGENT_NAME, room_name, voice_worker

_FAILING_TURNS = 4


@dataclass(frozen=True)
class _Outcome:
    worker: WorkerProcess
    collector: OtelCollector
    metrics_text: str
    healthy_exchange: Exchange


@contextlib.asynccontextmanager
async def _speaker(access: ServerAccess, room: str) -> AsyncIterator[SpeakingParticipant]:
    """A participant in ``room`` with the agent dispatched and its audio track ready."""
    await create_dispatch(access, room, AGENT_NAME)
    person = SpeakingParticipant(access, room, f"speaker-{uuid.uuid4().hex[:6]}")
    await person.join()
    try:
        await person.agent_track_ready(30)
        yield person
    finally:
        await person.leave()


async def _speak_without_replies(access: ServerAccess, room: str) -> None:
    async with _speaker(access, room) as person:
        for phrase in (*PHRASES, "One more question, please.")[:_FAILING_TURNS]:
            await person.say(speak(phrase))
            await asyncio.sleep(2.0)  # the turn ends and its LLM request fails


async def _healthy_turn(access: ServerAccess, room: str) -> Exchange:
    async with _speaker(access, room) as person:
        (exchange,) = await person.converse([speak(PHRASES[0])], turn_timeout=30)
        return exchange


async def _rooms(access: ServerAccess, ports: FakePorts, worker: WorkerProcess) -> Exchange:
    async with running_fakes(ports) as (llm, _stt, _tts):
        assert isinstance(llm, FakeLLM)
        llm.config.fault = FaultPlan("reject")
        await asyncio.wait_for(_speak_without_replies(access, room_name("fail")), 90)
        await asyncio.to_thread(
            worker.wait_for_line, r"Job shutting down \(reason: voice session failed", 30
        )
        llm.config.fault = None
        return await asyncio.wait_for(_healthy_turn(access, room_name("ok")), 90)


@pytest.fixture(scope="module")
def outcome(
    tmp_path_factory: pytest.TempPathFactory,
    livekit: LiveKitServer,
    access: ServerAccess,
    collector: OtelCollector,
) -> Iterator[_Outcome]:
    work = tmp_path_factory.mktemp("voice-faults")
    ports = FakePorts(*free_ports(3))
    with voice_worker(livekit, collector, work / "worker", ports) as worker:
        exchange = asyncio.run(_rooms(access, ports, worker))
        yield _Outcome(worker, collector, worker.scrape(), exchange)


def _log_records(worker: WorkerProcess) -> list[dict[str, object]]:
    records = []
    for line in worker.lines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


@pytest.mark.timeout(600)
def test_each_failure_is_counted_and_logged_once_with_the_room(outcome: _Outcome) -> None:
    match = re.search(
        r'agent_worker_voice_provider_errors_total\{kind="auth",provider="openai"\} (\S+)',
        outcome.metrics_text,
    )
    assert match is not None
    failures = float(match.group(1))
    assert failures >= _FAILING_TURNS
    lines = [r for r in _log_records(outcome.worker) if r.get("logger") == "telemetry.voice"]
    assert len(lines) == failures
    assert all(
        r["message"] == "Voice provider openai failed: auth (APIStatusError, unrecoverable)"
        for r in lines
    )
    # the room by sid (ALLOW_PII=false) and the trace on each line
    assert all(str(r.get("room", "")).startswith("RM_") and r.get("trace_id") for r in lines)


@pytest.mark.timeout(600)
def test_the_failed_requests_are_error_spans_in_the_room_s_trace(outcome: _Outcome) -> None:
    shutdowns = outcome.collector.wait_for_spans(2, name="job_shutdown", timeout=30)
    (failed_room,) = [
        s["trace_id"]
        for s in shutdowns
        if str(s["attributes"].get("lk.shutdown.reason", "")).startswith("voice session failed")
    ]
    runs = [s for s in outcome.collector.read_spans() if s["name"] == "llm_request_run"]
    errors = [s for s in runs if s["status_code"] == "ERROR"]
    assert len(errors) >= _FAILING_TURNS
    assert all(any(e["name"] == "exception" for e in s["events"]) for s in errors)
    assert {s["trace_id"] for s in errors} == {failed_room}
    # the next room's request succeeded, in its own trace
    assert any(s["status_code"] != "ERROR" and s["trace_id"] != failed_room for s in runs)


@pytest.mark.timeout(600)
def test_the_session_ended_its_room_and_the_worker_served_the_next(outcome: _Outcome) -> None:
    lines = outcome.worker.wait_for_line(r"voice session failed: llm_error", timeout=5)
    assert any("Job shutting down (reason: voice session failed: llm_error)" in x for x in lines)
    assert outcome.worker.process is not None
    assert outcome.worker.process.poll() is None
    assert "agent_worker_registered 1.0" in outcome.metrics_text
    assert outcome.healthy_exchange.agent_start is not None
    assert 'agent_worker_voice_turns_total{outcome="completed"} 1.0' in outcome.metrics_text
