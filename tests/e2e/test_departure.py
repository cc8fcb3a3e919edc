"""The departure grace period on the real server: who comes back finds the same agent.

A job leaves its room only after the room stayed empty for ``AGENT_DEPARTURE_TIMEOUT`` and
the server agrees nobody is in it; the room deleted through the API ends it at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from livekit import api

from devtools.harness import (
    LiveKitServer,
    LiveRooms,
    OtelCollector,
    Span,
    wait_until,
)
from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch

from .conftest import AGENT_NAME, room_name, traced_worker

_WAVES = 4
_WAVE_SIZE = 10


def _trace_of(collector: OtelCollector, room: str) -> tuple[list[Span], list[Span]]:
    """The room's root spans, and every span of the (first) root's trace."""
    spans = collector.read_spans()
    roots = [
        s
        for s in spans
        if s["name"] == "job_entrypoint" and s["attributes"].get("lk.pii.room_name") == room
    ]
    if not roots:
        return [], []
    return roots, [s for s in spans if s["trace_id"] == roots[0]["trace_id"]]


def _the_one_trace(collector: OtelCollector, room: str) -> list[Span]:
    """The room's trace once its job ended; asserts there is one (one job, one trace)."""
    ended: tuple[list[Span], list[Span]] = wait_until(
        lambda: (found := _trace_of(collector, room)) and "job_shutdown" in str(found[1]) and found,
        20,
        what="the room's trace",
    )
    roots, trace = ended
    assert len(roots) == 1  # one job, one trace
    return trace


def _participants(trace: list[Span]) -> list[str]:
    return [
        s["attributes"]["lk.pii.participant_identity"] for s in trace if s["name"] == "participant"
    ]


def _shutdown_line(room: str) -> str:
    return rf"Job shutting down \(reason: (.*?)\) \| room={re.escape(room)} "


async def _visit(access: ServerAccess, room: str, identity: str, stay: float) -> str:
    """Join, wait for the agent, stay without publishing, leave; the agent's identity."""
    participant = SyntheticParticipant(access, room, identity)
    await participant.join()
    try:
        agent = await participant.wait_for_agent(45)
        await asyncio.sleep(stay)
        return agent.identity
    finally:
        await participant.leave()


@pytest.mark.timeout(180)
def test_a_participant_back_after_3s_finds_the_same_agent_and_an_empty_room_ends_the_job(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    grace = 8.0
    room = room_name("rejoin")
    with traced_worker(livekit, collector, tmp_path, AGENT_DEPARTURE_TIMEOUT=str(grace)) as worker:

        async def leave_and_come_back() -> tuple[str, str, float]:
            await create_dispatch(access, room, AGENT_NAME)
            first = await _visit(access, room, "ann", 4.0)
            await asyncio.sleep(3.0)
            # long enough to become visible to the agent (publishing nothing, ~2.4 s)
            second = await _visit(access, room, "ann", 4.0)
            return first, second, time.monotonic()

        first, second, left_at = asyncio.run(leave_and_come_back())
        (line,) = worker.wait_for_line(_shutdown_line(room), timeout=grace + 20)
        empty_for = time.monotonic() - left_at
        assert worker.stop(timeout=30) == 0

    assert first == second  # the same agent, still in the room
    assert "reason: room empty" in line
    assert grace <= empty_for < grace + 10, empty_for
    output = worker.output()
    assert len(re.findall(rf"Job received for room: {re.escape(room)} ", output)) == 1
    assert "Participant joined the empty room; the agent stays" in output
    trace = _the_one_trace(collector, room)
    assert _participants(trace) == ["ann", "ann"]
    assert {"job_entrypoint", "job_shutdown"} <= {s["name"] for s in trace}
    print(f"\nrejoin after 3s: same agent; the empty room ended the job after {empty_for:.1f}s")


@pytest.mark.timeout(240)
def test_forty_participants_churning_in_waves_are_served_by_one_job(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    # shorter than a participant needs to become visible (about 2.4 s when publishing
    # nothing), so the server's listing is what keeps the job through each gap
    grace = 2.0
    room = room_name("churn")
    identities = [f"w{wave}-p{i}" for wave in range(_WAVES) for i in range(_WAVE_SIZE)]
    with traced_worker(livekit, collector, tmp_path, AGENT_DEPARTURE_TIMEOUT=str(grace)) as worker:

        async def waves() -> float:
            await create_dispatch(access, room, AGENT_NAME)
            for wave in range(_WAVES):
                batch = identities[wave * _WAVE_SIZE : (wave + 1) * _WAVE_SIZE]
                await asyncio.wait_for(
                    asyncio.gather(*(_visit(access, room, who, 4.0) for who in batch)), 90
                )
                await asyncio.sleep(1.0)  # the room is empty between two waves
            return time.monotonic()

        asyncio.run(waves())
        (line,) = worker.wait_for_line(_shutdown_line(room), timeout=60)
        assert worker.stop(timeout=30) == 0

    assert "reason: room empty" in line
    output = worker.output()
    assert len(re.findall(rf"Job received for room: {re.escape(room)} ", output)) == 1
    trace = _the_one_trace(collector, room)
    assert sorted(_participants(trace)) == sorted(identities)
    waits = output.count("The server still lists")
    print(f"\n{len(identities)} participants in {_WAVES} waves: one job, {waits} server check(s)")


@pytest.mark.timeout(120)
def test_the_room_deleted_through_the_api_ends_the_job_at_once(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    grace = 60.0
    room = room_name("deleted")
    with (
        traced_worker(livekit, collector, tmp_path, AGENT_DEPARTURE_TIMEOUT=str(grace)) as worker,
        LiveRooms(access, AGENT_NAME) as rooms,
    ):
        rooms.open(room, [SyntheticParticipant(access, room, "bea")])
        worker.wait_for_line(rf"Connected to room: {re.escape(room)} ", timeout=30)

        async def delete() -> None:
            async with api.LiveKitAPI(access.http_url, access.api_key, access.api_secret) as lk:
                await lk.room.delete_room(api.DeleteRoomRequest(room=room))

        deleted_at = time.monotonic()
        asyncio.run(delete())
        (line,) = worker.wait_for_line(_shutdown_line(room), timeout=15)
        ended_after = time.monotonic() - deleted_at
        rooms.leave_all()
        assert worker.stop(timeout=30) == 0

    assert ended_after < 5.0, ended_after
    assert "reason: room empty" not in line  # the room's disconnect, not the grace period
    trace = _the_one_trace(collector, room)
    (shutdown,) = [s for s in trace if s["name"] == "job_shutdown"]
    assert shutdown["attributes"]["lk.shutdown.reason"] != "room empty"
    print(f"\nroom deleted: the job ended {ended_after:.1f}s later (grace {grace:.0f}s unused)")
