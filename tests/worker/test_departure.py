"""The departure grace period: leave a room only when it stayed empty, and the server agrees."""

from __future__ import annotations

import asyncio
import logging

import pytest
from livekit import api, rtc

from devtools.harness import FakeRoom, fake_participant
from worker.departure import DepartureWatch, people_listed, remote_people

_STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
_AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


class _Room(FakeRoom):
    def join(self, identity: str, kind: int = _STANDARD) -> None:
        participant = fake_participant(identity=identity, kind=kind)
        self.remote_participants[identity] = participant
        self.emit("participant_connected", participant)

    def leave(self, identity: str) -> None:
        self.emit("participant_disconnected", self.remote_participants.pop(identity))

    def visit(self, identity: str) -> None:
        """The participant joins and leaves at once: the room is empty again."""
        self.join(identity)
        self.leave(identity)


class _Server:
    def __init__(self, listed: list[int | Exception]) -> None:
        self.listed = listed
        self.calls = 0

    async def people(self) -> int:
        self.calls += 1
        answer = self.listed[min(self.calls - 1, len(self.listed) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _watched(
    listed: list[int | Exception], grace: float
) -> tuple[_Room, _Server, list[float], DepartureWatch]:
    """A started watch over an empty room; ``listed``: the server's answers, in turn."""
    room, server, ended = _Room(), _Server(listed), []
    loop = asyncio.get_running_loop()
    watch = DepartureWatch(
        room,  # type: ignore[arg-type]
        grace=grace,
        people_on_server=server.people,
        on_empty=lambda: ended.append(loop.time()),
        recheck_seconds=0.05,
        max_rechecks=3,
    )
    watch.start()
    return room, server, ended, watch


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="worker.departure")


async def test_the_job_ends_only_after_the_grace_period() -> None:
    room, server, ended, watch = _watched([0], grace=0.2)
    room.join("ann")
    left_at = asyncio.get_running_loop().time()
    room.leave("ann")
    assert watch.waiting
    await asyncio.sleep(0.1)
    assert ended == []
    await asyncio.sleep(0.2)
    assert len(ended) == 1
    assert ended[0] - left_at >= 0.2
    assert server.calls == 1
    assert not watch.waiting


async def test_each_decision_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    room, _server, ended, _watch = _watched([0], grace=0.05)
    room.visit("ann")
    await asyncio.sleep(0.2)
    assert len(ended) == 1
    assert caplog.messages == [
        "Room empty; the agent leaves in 0s unless someone joins",
        "Room still empty after 0s; the agent leaves",
    ]


async def test_without_a_grace_period_leaving_is_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, server, ended, _watch = _watched([0], grace=0)
    room.visit("ann")
    await asyncio.sleep(0.05)
    assert len(ended) == 1
    assert server.calls == 1  # the server is still asked
    assert caplog.messages == ["Room empty (grace period 0s); the agent leaves"]


async def test_a_participant_back_within_the_grace_keeps_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, server, ended, watch = _watched([0], grace=0.2)
    room.visit("ann")
    await asyncio.sleep(0.1)
    room.join("ann")
    assert not watch.waiting
    await asyncio.sleep(0.3)
    assert ended == []
    assert server.calls == 0
    assert "Participant joined the empty room; the agent stays" in caplog.messages
    room.leave("ann")  # and a later departure starts the grace period again
    await asyncio.sleep(0.3)
    assert len(ended) == 1


async def test_an_agent_joining_neither_keeps_nor_counts() -> None:
    room, _server, ended, watch = _watched([0], grace=0.1)
    room.join("other-agent", _AGENT)
    room.join("ann")
    room.leave("ann")  # only an agent left: empty for this job
    assert watch.waiting
    room.join("another-agent", _AGENT)
    assert watch.waiting
    await asyncio.sleep(0.2)
    assert len(ended) == 1
    assert remote_people(room) == 0  # type: ignore[arg-type]


async def test_the_job_waits_while_the_server_lists_someone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room, server, ended, _watch = _watched([2, 1, 0], grace=0.05)
    room.visit("ann")
    await asyncio.sleep(0.3)
    assert server.calls == 3
    assert len(ended) == 1
    assert caplog.messages.count("The server still lists 2 participant(s); the agent waits") == 1


async def test_someone_the_server_listed_becomes_visible_and_the_job_stays() -> None:
    room, _server, ended, watch = _watched([1], grace=0.05)
    room.visit("ann")
    await asyncio.sleep(0.08)
    room.join("bob")  # the one the server listed, now visible to the agent
    await asyncio.sleep(0.3)
    assert ended == []
    assert not watch.waiting


async def test_the_rechecks_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    room, server, ended, _watch = _watched([1], grace=0.05)
    room.visit("ann")
    await asyncio.sleep(0.5)
    assert server.calls == 4  # the first check and three more
    assert len(ended) == 1
    assert any("never saw (1)" in m for m in caplog.messages)


async def test_a_failing_server_check_is_retried_within_the_bound() -> None:
    room, server, ended, _watch = _watched([ConnectionError("down"), 0], grace=0.05)
    room.visit("ann")
    await asyncio.sleep(0.3)
    assert server.calls == 2
    assert len(ended) == 1


async def test_close_cancels_the_timer() -> None:
    room, _server, ended, watch = _watched([0], grace=0.1)
    room.visit("ann")
    watch.close()
    await asyncio.sleep(0.2)
    assert ended == []
    assert room.handlers == {"participant_connected": [], "participant_disconnected": []}


def test_the_server_listing_counts_people_other_than_this_agent() -> None:
    info = api.ParticipantInfo
    response = api.ListParticipantsResponse(
        participants=[
            info(identity="agent-AJ_1", kind=info.Kind.AGENT),
            info(identity="other-agent", kind=info.Kind.AGENT),
            info(identity="ann", kind=info.Kind.STANDARD, state=info.State.ACTIVE),
            info(identity="bob", kind=info.Kind.STANDARD, state=info.State.JOINING),
            info(identity="cid", kind=info.Kind.SIP, state=info.State.JOINED),
            info(identity="dot", kind=info.Kind.STANDARD, state=info.State.DISCONNECTED),
        ]
    )
    assert people_listed(response, "agent-AJ_1") == 3
    assert people_listed(api.ListParticipantsResponse(), "agent-AJ_1") == 0
