"""Rooms that stay occupied while a test signals, kills or cuts off the worker.

``tests.e2e.conftest.session`` runs participants to completion. The fault tests need the
opposite: participants that joined and publish, and stay, while the test does something
else with blocking calls. :class:`LiveRooms` runs their event loop on a background thread;
every call blocks until its work is done, bounded in time, and leaving the context makes
every participant leave and stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch

from .lifecycle import StartStop

__all__ = ["LiveRooms"]

T = TypeVar("T")

_LEAVE_TIMEOUT = 10.0


class LiveRooms(StartStop):
    """Dispatch the agent to rooms and keep synthetic participants in them.

    Args:
        access: the LiveKit server.
        agent_name: the agent every room is dispatched to.
        timeout: seconds any one call may take.
    """

    def __init__(self, access: ServerAccess, agent_name: str, *, timeout: float = 60.0) -> None:
        self.access = access
        self.agent_name = agent_name
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-rooms")
        self._participants: dict[str, list[SyntheticParticipant]] = {}

    def start(self) -> None:
        """Starts the thread that runs the participants' event loop."""
        self._thread.start()

    def stop(self) -> None:
        """Every participant leaves; then the event loop stops."""
        try:
            self.leave_all()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout or self.timeout)
        except TimeoutError:
            future.cancel()
            raise

    def open(
        self,
        room: str,
        participants: Sequence[SyntheticParticipant],
        *,
        metadata: str = "",
        publish: bool = True,
        access: ServerAccess | None = None,
        agent_name: str | None = None,
    ) -> None:
        """Dispatch the agent to ``room``; the participants join and publish, and stay.

        Args:
            room: The room, created with the dispatch.
            participants: Who joins it.
            metadata: The dispatch's metadata.
            publish: False: the participants only join (the cheapest occupied room).
            access: The server whose API creates the room and the dispatch (a cluster node),
                by default the one given to the constructor.
            agent_name: The agent to dispatch, by default the constructor's.
        """

        async def _open() -> None:
            agent = agent_name or self.agent_name
            await create_dispatch(access or self.access, room, agent, metadata)
            await asyncio.gather(*(self._join(p, publish) for p in participants))

        self._participants.setdefault(room, []).extend(participants)
        self._run(_open())

    @staticmethod
    async def _join(participant: SyntheticParticipant, publish: bool) -> None:
        await participant.join()
        if publish:
            await participant.publish()

    def leave(self, room: str) -> None:
        """Every participant of ``room`` unpublishes and leaves."""
        participants = self._participants.pop(room, [])

        async def _leave() -> None:
            await asyncio.gather(
                *(asyncio.wait_for(p.leave(), _LEAVE_TIMEOUT) for p in participants),
                return_exceptions=True,  # a participant of a dead server cannot leave cleanly
            )

        self._run(_leave(), timeout=_LEAVE_TIMEOUT + 5)

    def leave_all(self) -> None:
        """Every participant of every room leaves."""
        for room in list(self._participants):
            with contextlib.suppress(TimeoutError):
                self.leave(room)
