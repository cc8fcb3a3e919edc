"""When a job leaves its room: after the room has stayed empty for a grace period.

A participant whose network drops, or who reloads the page, is back within seconds; the
LiveKit server keeps the room for them (its ``departure_timeout``, 20 s by default) and
does not dispatch the agent again. So the job must not end the moment the room looks
empty: :class:`DepartureWatch` starts a timer when the last remote participant leaves,
cancels it when one joins, and when it fires asks the server whether the room is really
empty. Participants who publish nothing become visible to the agent only seconds after the
server lists them; while the server lists someone the agent cannot see, the watch checks
again, a bounded number of times. The room deleted through the API disconnects the job's
room, which ends the job at once through the SDK; the watch is not involved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from livekit import api, rtc

__all__ = ["DepartureWatch", "people_listed", "remote_people"]

logger = logging.getLogger(__name__)

# participants who publish nothing become visible to others about 2.4 s after they connect
_RECHECK_SECONDS = 2.5
_MAX_RECHECKS = 8
_CHECK_TIMEOUT = 5.0
_EMPTY_AFTER_GRACE = "Room still empty after %.0fs; the agent leaves"
_EMPTY = "Room empty (grace period %.0fs); the agent leaves"


def remote_people(room: rtc.Room) -> int:
    """The remote participants of ``room`` the agent serves (other agents do not count)."""
    agent = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    return sum(1 for p in room.remote_participants.values() if p.kind != agent)


def people_listed(response: api.ListParticipantsResponse, agent_identity: str) -> int:
    """The non-agent participants other than ``agent_identity`` in a server listing."""
    gone = api.ParticipantInfo.State.DISCONNECTED
    agent = api.ParticipantInfo.Kind.AGENT
    return sum(
        1
        for p in response.participants
        if p.identity != agent_identity and p.kind != agent and p.state != gone
    )


class DepartureWatch:
    """Ends a job once its room has had no one in it for ``grace`` seconds.

    Args:
        room: the job's connected room.
        grace: seconds the room must stay empty (``AGENT_DEPARTURE_TIMEOUT``).
        people_on_server: how many non-agent participants, other than this agent, the
            server lists in the room.
        on_empty: ends the job.
        recheck_seconds: pause between two checks while the server lists someone.
        max_rechecks: checks after the first before the job ends anyway.
    """

    def __init__(
        self,
        room: rtc.Room,
        *,
        grace: float,
        people_on_server: Callable[[], Awaitable[int]],
        on_empty: Callable[[], None],
        recheck_seconds: float = _RECHECK_SECONDS,
        max_rechecks: int = _MAX_RECHECKS,
    ) -> None:
        self._room = room
        self._grace = grace
        self._people_on_server = people_on_server
        self._on_empty = on_empty
        self._recheck = recheck_seconds
        self._max_rechecks = max_rechecks
        self._timer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the room's participants."""
        self._room.on("participant_connected", self._joined)
        self._room.on("participant_disconnected", self._left)

    def close(self) -> None:
        """Stop following the room and cancel a running timer."""
        self._room.off("participant_connected", self._joined)
        self._room.off("participant_disconnected", self._left)
        self._cancel()

    @property
    def waiting(self) -> bool:
        """Whether the room is empty and the grace period is running."""
        return self._timer is not None and not self._timer.done()

    def _joined(self, participant: rtc.RemoteParticipant) -> None:
        if self.waiting and participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            logger.info("Participant joined the empty room; the agent stays")
            self._cancel()

    def _left(self, _participant: rtc.RemoteParticipant) -> None:
        if remote_people(self._room) or self.waiting:
            return
        if self._grace > 0:  # without a grace period the decision's own line says it all
            logger.info("Room empty; the agent leaves in %.0fs unless someone joins", self._grace)
        self._timer = asyncio.create_task(self._wait(), name="departure_timer")

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _wait(self) -> None:
        await asyncio.sleep(self._grace)
        listed: int | None = None
        for check in range(self._max_rechecks + 1):
            if remote_people(self._room):
                self._timer = None
                return  # someone became visible; their leaving starts a new timer
            listed = await self._listed()
            if listed == 0:
                logger.info(_EMPTY_AFTER_GRACE if self._grace > 0 else _EMPTY, self._grace)
                self._timer = None
                self._on_empty()
                return
            if check == 0 and listed is not None:
                logger.info("The server still lists %d participant(s); the agent waits", listed)
            await asyncio.sleep(self._recheck)
        logger.warning(
            "The server listed participant(s) the agent never saw (%s) for %.0fs; leaving",
            "unknown" if listed is None else listed,
            self._recheck * self._max_rechecks,
        )
        self._timer = None
        self._on_empty()

    async def _listed(self) -> int | None:
        try:
            return await asyncio.wait_for(self._people_on_server(), _CHECK_TIMEOUT)
        except Exception as error:  # unknown: checked again, within the same bound
            logger.info("Could not list the room's participants: %r", error)
            return None
