"""The benchmark's load: rooms created through the API, one publishing participant each.

For each room the bench notes the wall-clock time ``t0`` just before it asks the server
API to create the room and dispatch the agent (``devtools.synthetic.create_dispatch``, as
the Platform API does), then a synthetic participant joins and publishes a tone. When the
participant sees the agent in the room, the bench reads the agent's join time from the
server (``joined_at_ms``): "room connected" observed from outside, the same way for every
worker. A wave creates its rooms at once or a fixed spacing apart; each participant stays
``hold`` seconds once its agent joined, then leaves, which ends the job.

Everything is bounded: each room's waits and each wave as a whole have a timeout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from livekit import api, rtc

from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch

__all__ = [
    "agent_joined_at",
    "LoadSpec",
    "ObservedParticipant",
    "RoomTiming",
    "WaveSpec",
    "run_under_load",
    "run_wave",
]

_FRAME_MS = 100

_AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class RoomTiming:
    """One room's dispatch, as the bench saw it (seconds; wall clock)."""

    room: str
    t0: float
    joined: float | None = None
    entrypoint: float | None = None
    connected: float | None = None
    error: str | None = None

    @property
    def joined_latency(self) -> float | None:
        """Room created → agent joined the room (the server's record)."""
        return None if self.joined is None else self.joined - self.t0

    @property
    def entrypoint_latency(self) -> float | None:
        """Room created → the job's entrypoint started (the worker's log line)."""
        return None if self.entrypoint is None else self.entrypoint - self.t0

    @property
    def connected_latency(self) -> float | None:
        """Room created → ``ctx.connect()`` returned in the job (the worker's log line)."""
        return None if self.connected is None else self.connected - self.t0


class ObservedParticipant(SyntheticParticipant):
    """A synthetic participant that can wait for the agent to be in its room."""

    async def agent_present(self, wait_seconds: float) -> bool:
        """Wait until an agent participant is in the room; False after ``wait_seconds``."""
        room = self._room
        assert room is not None, "join first"
        arrived = asyncio.Event()

        def on_connected(participant: rtc.RemoteParticipant) -> None:
            if participant.kind == _AGENT:
                arrived.set()

        room.on("participant_connected", on_connected)
        try:
            if any(p.kind == _AGENT for p in room.remote_participants.values()):
                return True
            await asyncio.wait_for(arrived.wait(), wait_seconds)
            return True
        except TimeoutError:
            return False
        finally:
            room.off("participant_connected", on_connected)


@dataclass(frozen=True)
class WaveSpec:
    """A wave of rooms: how many, how far apart they are created, how long they live.

    Attributes:
        rooms: rooms in the wave.
        spacing: seconds between two room creations (0: all at once, a burst).
        hold: seconds each participant stays once its room's agent joined (or did not come),
            so a job's life does not depend on how fast the other rooms were served.
        wait_agent: longest wait for an agent in one room, and for one participant to join.
        stay_until: if set, no participant leaves before this many seconds after the wave
            started: a fixed schedule that keeps all rooms of the wave live together.
    """

    rooms: int
    spacing: float
    hold: float
    wait_agent: float
    stay_until: float = 0.0

    @property
    def bound(self) -> float:
        """The longest the whole wave may take."""
        end = max(self.rooms * self.spacing, self.stay_until)
        return end + 3 * self.wait_agent + self.hold + 30


async def agent_joined_at(lkapi: api.LiveKitAPI, room: str) -> float | None:
    """When the room's agent joined, as the server records it (epoch seconds); None: not yet."""
    response = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    for info in response.participants:
        if info.kind == api.ParticipantInfo.Kind.AGENT:
            return info.joined_at_ms / 1000.0 if info.joined_at_ms else float(info.joined_at)
    return None


@dataclass(frozen=True)
class _Wave:
    """One wave in flight: where, and to which agent."""

    access: ServerAccess
    lkapi: api.LiveKitAPI
    agent_name: str
    spec: WaveSpec
    started: float  # the wave's start on the monotonic clock

    async def dispatch_and_join(self, participant: ObservedParticipant, timing: RoomTiming) -> None:
        wait = self.spec.wait_agent
        timing.t0 = time.time()
        await create_dispatch(self.access, timing.room, self.agent_name)
        await participant.join(connect_timeout=wait)
        await participant.publish()
        if await participant.agent_present(wait):
            timing.joined = await agent_joined_at(self.lkapi, timing.room)
        else:
            timing.error = f"agent not in the room within {wait:.0f}s"

    async def room(self, timing: RoomTiming) -> RoomTiming:
        participant = ObservedParticipant(
            self.access,
            timing.room,
            f"caller-{timing.room}",
            # the worker does not listen yet: the track and its events matter, not its sound;
            # silence in 100 ms frames cost the load generator a third less CPU than a tone
            # in 20 ms frames (4 participants: 0.14 vs 0.21 cores)
            silence=True,
            frame_ms=_FRAME_MS,
        )
        try:
            await self.dispatch_and_join(participant, timing)
            until = self.started + self.spec.stay_until - time.monotonic()
            await asyncio.sleep(max(self.spec.hold, until))
        except Exception as error:  # one failed room must not end the wave
            timing.error = f"{type(error).__name__}: {error}"
        try:
            await asyncio.wait_for(participant.leave(), self.spec.wait_agent)
        except Exception as error:
            timing.error = timing.error or f"leave failed: {type(error).__name__}"
        return timing


async def run_wave(
    access: ServerAccess, agent_name: str, spec: WaveSpec, prefix: str
) -> list[RoomTiming]:
    """Create ``spec.rooms`` rooms ``spec.spacing`` apart and let each live its time."""
    timings = [RoomTiming(f"{prefix}-{uuid.uuid4().hex[:8]}", 0.0) for _ in range(spec.rooms)]
    async with api.LiveKitAPI(access.http_url, access.api_key, access.api_secret) as lkapi:
        wave = _Wave(access, lkapi, agent_name, spec, time.monotonic())
        tasks: list[asyncio.Task[RoomTiming]] = []
        try:
            async with asyncio.timeout(spec.bound):
                for index, timing in enumerate(timings):
                    if index and spec.spacing:
                        await asyncio.sleep(spec.spacing)
                    tasks.append(asyncio.create_task(wave.room(timing)))
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()  # only a wave past its bound has unfinished rooms
            await asyncio.gather(*tasks, return_exceptions=True)
    return timings


@dataclass(frozen=True)
class LoadSpec:
    """Probe rooms dispatched while background rooms are live.

    Attributes:
        background: the rooms that make the load; their ``stay_until`` should pass the
            probes' end, so that they are all live while the probes are dispatched.
        probes: the rooms whose dispatch is measured.
        probes_after: seconds after the background's start when the probes start.
    """

    background: WaveSpec
    probes: WaveSpec
    probes_after: float


async def run_under_load(
    access: ServerAccess, agent_name: str, spec: LoadSpec, prefix: str
) -> tuple[list[RoomTiming], list[RoomTiming]]:
    """Run the background wave and, ``spec.probes_after`` seconds in, the probe wave.

    Returns:
        The background rooms' timings, and the probe rooms' timings.
    """

    async def later() -> list[RoomTiming]:
        await asyncio.sleep(spec.probes_after)
        return await run_wave(access, agent_name, spec.probes, f"{prefix}-probe")

    loaded, probed = await asyncio.gather(
        run_wave(access, agent_name, spec.background, f"{prefix}-bg"), later()
    )
    return loaded, probed
