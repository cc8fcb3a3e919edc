"""A synthetic participant that speaks: espeak-ng phrases through WebRTC, and listens back.

Where ``devtools.synthetic.SyntheticParticipant`` publishes a tone, this one publishes a
microphone track carrying silence until it is told to :meth:`SpeakingParticipant.say` a
phrase (real speech from ``devtools.speech``), so the agent's real Silero VAD and turn
detection hear real turns. It subscribes to the agent's audio and detects by energy when the
agent speaks, so a script can wait for the reply, or talk over it (an interruption).
Kept apart from ``devtools.synthetic`` (which it builds on) to keep each module one concern.

Times are wall-clock (``time.time()``), the clock of the SDK's ``MetricsReport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

from devtools.energy import EnergyDetector
from devtools.speech import SAMPLE_RATE, SpeechClip, silence
from devtools.synthetic import ServerAccess, token_for

__all__ = ["Exchange", "SpeakingParticipant"]

_FRAME_MS = 20
_FRAME_SAMPLES = SAMPLE_RATE * _FRAME_MS // 1000
# a short source queue keeps capture time within a frame or two of the time audio leaves
_QUEUE_MS = 60
_SILENT_FRAME = silence(_FRAME_MS / 1000)


@dataclass
class Exchange:
    """One phrase said and what the participant heard after it.

    Attributes:
        phrase: what was said.
        speech_end: wall time the last voiced frame of the phrase was sent.
        agent_start: wall time the agent's next audio was first heard, if it was.
    """

    phrase: str
    speech_end: float
    agent_start: float | None = None


@dataclass
class _Queued:
    frames: deque[rtc.AudioFrame]
    voiced_end_frame: int
    sent: int = 0
    speech_end: float | None = None
    done: asyncio.Future[float] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class SpeakingParticipant:
    """Joins a room, publishes a microphone track, says phrases on cue, hears the agent.

    Args:
        access: the server.
        room: the room to join.
        identity: the participant's identity.
    """

    access: ServerAccess
    room: str
    identity: str
    agent_starts: list[float] = field(default_factory=list)
    agent_ends: list[float] = field(default_factory=list)
    _room: rtc.Room | None = None
    _queue: deque[_Queued] = field(default_factory=deque)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _heard: asyncio.Event = field(default_factory=asyncio.Event)
    _agent_track: asyncio.Event = field(default_factory=asyncio.Event)

    async def join(self, connect_timeout: float = 15.0) -> None:
        """Connect, publish the microphone track (silence) and listen for the agent's audio."""
        self._room = rtc.Room()
        self._room.on("track_subscribed", self._on_track)
        token = token_for(self.access, self.room, self.identity, name=self.identity)
        await asyncio.wait_for(self._room.connect(self.access.url, token), connect_timeout)
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self._room.local_participant.publish_track(track, options)
        self._tasks.append(asyncio.create_task(self._pump(source), name="speak"))

    async def agent_track_ready(self, within: float) -> None:
        """Wait until the agent's audio track is subscribed (its session is listening)."""
        await asyncio.wait_for(self._agent_track.wait(), within)

    async def say(self, clip: SpeechClip, within: float = 30.0) -> float:
        """Speak ``clip`` now; returns the wall time its last voiced frame was sent."""
        frames = deque(clip.frames(frame_ms=_FRAME_MS))
        queued = _Queued(frames, voiced_end_frame=math.ceil(clip.voiced.end * 1000 / _FRAME_MS))
        self._queue.append(queued)
        return await asyncio.wait_for(queued.done, within)

    async def agent_speech(self, after: float, within: float) -> float:
        """The first time the agent was heard starting to speak after wall time ``after``."""
        return await self._first_after(self.agent_starts, after, within, "speak")

    async def agent_silence(self, after: float, within: float) -> float:
        """The first time the agent was heard stopping after wall time ``after``."""
        return await self._first_after(self.agent_ends, after, within, "stop speaking")

    async def _first_after(
        self, times: list[float], after: float, within: float, what: str
    ) -> float:
        deadline = time.monotonic() + within
        while True:
            later = [t for t in times if t > after]
            if later:
                return later[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the agent did not {what} within {within}s")
            self._heard.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), remaining)

    async def converse(
        self,
        clips: list[SpeechClip],
        interruption: SpeechClip | None = None,
        *,
        interrupt_after: float = 1.0,
        turn_timeout: float = 30.0,
    ) -> list[Exchange]:
        """Say each clip after the agent's reply to the previous one; then, if given, say
        ``interruption`` ``interrupt_after`` seconds into the last reply (talking over the
        agent) and wait for the reply to it. Every wait is bounded by ``turn_timeout``."""
        exchanges: list[Exchange] = []
        for clip in clips:
            exchange = Exchange(clip.phrase, await self.say(clip, turn_timeout))
            exchange.agent_start = await self.agent_speech(exchange.speech_end, turn_timeout)
            exchanges.append(exchange)
            if clip is not clips[-1] or interruption is None:
                await self.agent_silence(exchange.agent_start, turn_timeout)
        if interruption is not None:
            await asyncio.sleep(interrupt_after)
            exchange = Exchange(interruption.phrase, await self.say(interruption, turn_timeout))
            exchange.agent_start = await self.agent_speech(exchange.speech_end, turn_timeout)
            await self.agent_silence(exchange.agent_start, turn_timeout)
            exchanges.append(exchange)
        return exchanges

    async def leave(self) -> None:
        """Stop speaking and listening, and disconnect."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._room is not None:
            await self._room.disconnect()
            self._room = None

    def _on_track(
        self,
        track: rtc.Track,
        _publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if (
            track.kind == rtc.TrackKind.KIND_AUDIO
            and participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ):
            self._tasks.append(asyncio.create_task(self._listen(track), name="listen"))
            self._agent_track.set()

    async def _listen(self, track: rtc.Track) -> None:
        # a longer hangover than for a user: the agent's sentences follow each other closely
        detector = EnergyDetector(SAMPLE_RATE, hangover_s=0.3)
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                pcm = np.frombuffer(event.frame.data, dtype=np.int16)
                for kind, _audio_time in detector.push(pcm):
                    # the detector's audio time lags by its onset or hangover window
                    lag = detector.onset_s if kind == "start" else detector.hangover_s
                    (self.agent_starts if kind == "start" else self.agent_ends).append(
                        time.time() - lag
                    )
                    self._heard.set()
        finally:
            await stream.aclose()

    async def _pump(self, source: rtc.AudioSource) -> None:
        # real-time pacing: capture_frame waits while the source's short queue is full
        silent = rtc.AudioFrame(_SILENT_FRAME.tobytes(), SAMPLE_RATE, 1, _FRAME_SAMPLES)
        while True:
            queued = self._queue[0] if self._queue else None
            if queued is None:
                await source.capture_frame(silent)
                continue
            await source.capture_frame(queued.frames.popleft())
            queued.sent += 1
            if queued.sent == queued.voiced_end_frame:
                queued.speech_end = time.time()
            if not queued.frames:
                self._queue.popleft()
                if not queued.done.done():
                    queued.done.set_result(queued.speech_end or time.time())
