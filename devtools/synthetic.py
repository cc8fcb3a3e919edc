"""Synthetic LiveKit participants: join a room, publish a generated tone, leave.

Used by the end-to-end tests, ``make demo-traffic`` and the benchmark, so that a room gets
real participants and real audio tracks without a browser or a phone. Everything is
bounded: a participant publishes for a fixed time, then unpublishes and disconnects.
"""

from __future__ import annotations

import asyncio
import functools
import math
from dataclasses import dataclass, field

import numpy as np
from livekit import api, rtc

__all__ = ["ServerAccess", "SyntheticParticipant", "create_dispatch", "token_for"]

_SAMPLE_RATE = 48000
_FRAME_MS = 20


@dataclass(frozen=True)
class ServerAccess:
    """Where a LiveKit server is and the credentials to use it."""

    url: str
    api_key: str
    api_secret: str

    @property
    def http_url(self) -> str:
        """The server's HTTP URL (the API uses it; the RTC SDK takes the ws URL)."""
        return self.url.replace("ws://", "http://").replace("wss://", "https://")


def token_for(
    access: ServerAccess,
    room: str,
    identity: str,
    *,
    name: str = "",
    metadata: str = "",
    attributes: dict[str, str] | None = None,
) -> str:
    """A join token for ``identity`` in ``room``."""
    token = (
        api.AccessToken(access.api_key, access.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_metadata(metadata)
        .with_grants(api.VideoGrants(room_join=True, room=room))
    )
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()


async def create_dispatch(
    access: ServerAccess, room: str, agent_name: str, metadata: str = ""
) -> api.AgentDispatch:
    """Create ``room`` and dispatch the named agent to it, as the Platform API does."""
    async with api.LiveKitAPI(access.http_url, access.api_key, access.api_secret) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
        return await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
        )


@functools.lru_cache(maxsize=16)
def _frames(frequency: float, frame_ms: int) -> tuple[rtc.AudioFrame, ...]:
    """One second of a tone (silence for frequency 0) in ``frame_ms`` frames, made once.

    A whole-hertz tone completes whole cycles in a second, so the frames loop seamlessly;
    computing each frame anew cost the load generator a sine over every sample, 50 times a
    second per track.
    """
    samples = _SAMPLE_RATE * frame_ms // 1000
    frames = []
    for index in range(1000 // frame_ms):
        t = (np.arange(samples) + index * samples) / _SAMPLE_RATE
        pcm = (0.2 * 32767 * np.sin(2 * math.pi * frequency * t)).astype(np.int16)
        frames.append(rtc.AudioFrame(pcm.tobytes(), _SAMPLE_RATE, 1, samples))
    return tuple(frames)


@dataclass
class SyntheticParticipant:
    """A participant that publishes tone tracks for a bounded time.

    Args:
        access: the server.
        room: the room to join.
        identity: the participant's identity.
        name: display name.
        metadata: participant metadata.
        attributes: participant attributes.
        tracks: how many microphone-source tone tracks to publish.
        silence: publish silence instead of a tone (the bench: the track matters, not its
            sound).
        frame_ms: audio frame length; longer frames mean fewer calls into the WebRTC stack.
    """

    access: ServerAccess
    room: str
    identity: str
    name: str = ""
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    tracks: int = 1
    silence: bool = False
    frame_ms: int = _FRAME_MS
    _room: rtc.Room | None = None
    _publications: list[rtc.LocalTrackPublication] = field(default_factory=list)
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)

    async def join(self, connect_timeout: float = 15.0) -> None:
        """Connect to the room."""
        self._room = rtc.Room()
        token = token_for(
            self.access,
            self.room,
            self.identity,
            name=self.name,
            metadata=self.metadata,
            attributes=self.attributes,
        )
        await asyncio.wait_for(self._room.connect(self.access.url, token), connect_timeout)

    async def publish(self) -> None:
        """Publish ``tracks`` tone tracks (440 Hz, 550 Hz, …) as microphone sources."""
        assert self._room is not None, "join first"
        for index in range(self.tracks):
            source = rtc.AudioSource(_SAMPLE_RATE, 1)
            track = rtc.LocalAudioTrack.create_audio_track(f"tone-{index}", source)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            publication = await self._room.local_participant.publish_track(track, options)
            self._publications.append(publication)
            frequency = 0.0 if self.silence else 440.0 + 110.0 * index
            frames = _frames(frequency, self.frame_ms)
            self._pumps.append(asyncio.create_task(self._pump(source, frames)))

    async def unpublish(self) -> None:
        """Stop the tones and unpublish every track."""
        assert self._room is not None, "join first"
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps.clear()
        for publication in self._publications:
            await self._room.local_participant.unpublish_track(publication.sid)
        self._publications.clear()

    async def leave(self) -> None:
        """Disconnect from the room."""
        if self._room is not None:
            if self._pumps:
                await self.unpublish()
            await self._room.disconnect()
            self._room = None

    async def wait_for_agent(self, wait_timeout: float = 30.0) -> rtc.RemoteParticipant:
        """Wait until an agent participant is in the room (the worker's job connected)."""
        assert self._room is not None, "join first"
        room = self._room
        deadline = asyncio.get_running_loop().time() + wait_timeout
        while True:
            for participant in room.remote_participants.values():
                if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                    return participant
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"no agent joined {self.room} within {wait_timeout}s")
            await asyncio.sleep(0.05)

    async def run(self, publish_seconds: float, *, wait_for_agent: float | None = None) -> None:
        """Join, (optionally wait for the agent,) publish for ``publish_seconds``, unpublish,
        leave."""
        await self.join()
        try:
            if wait_for_agent is not None:
                await self.wait_for_agent(wait_for_agent)
            await self.publish()
            await asyncio.sleep(publish_seconds)
            await self.unpublish()
        finally:
            await self.leave()

    @staticmethod
    async def _pump(source: rtc.AudioSource, frames: tuple[rtc.AudioFrame, ...]) -> None:
        # real-time pacing: capture_frame waits while the source's queue is full
        index = 0
        while True:
            await source.capture_frame(frames[index % len(frames)])
            index += 1
