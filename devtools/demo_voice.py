"""A spoken conversation with the voice agent, against local fakes of its providers.

``make demo-voice`` starts the three protocol-level provider fakes (``devtools.fakes``) on
fixed loopback ports and, in a few rooms, a participant that speaks espeak-ng phrases to the
agent, waits for each reply, and once talks over it (an interruption). Run the worker with
``make agent-dev-voice`` (``VOICE_PIPELINE=on`` pointed at the same ports, dummy keys): no
provider account is needed, and the Voice pipeline dashboard fills. The end-to-end tests
run the same conversation (:func:`converse_in_room`).

Usage: ``python -m devtools.demo_voice [--rooms 1] [--seconds 120] [--worker-env]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from livekit import api

from worker.settings import settings_or_exit

from .demo_cli import configured_access, run_or_report
from .fakes import FakeCartesia, FakeDeepgram, FakeLLM, LLMConfig, STTConfig, TTSConfig
from .speaking import Exchange, SpeakingParticipant
from .speech import speak
from .synthetic import ServerAccess, create_dispatch

__all__ = [
    "DEMO_PORTS",
    "INTERRUPTION",
    "PHRASES",
    "REPLIES",
    "TRANSCRIPTS",
    "FakePorts",
    "converse_in_room",
    "main",
    "running_fakes",
]

PHRASES = ("What is the weather like today?", "And what about tomorrow?", "Tell me a story.")
"""What the participant says, one turn each."""
INTERRUPTION = "Stop, tell me about trains instead."
"""Said over the agent's third reply."""
TRANSCRIPTS = (*PHRASES, INTERRUPTION)
"""The fake STT's transcript of each utterance, in order."""
REPLIES = (
    "It is sunny and warm today, twenty four degrees.",
    "Tomorrow brings light rain in the morning and sun later on.",
    "Once upon a time a small robot lived by the sea. Every morning it counted the waves, "
    "and every evening it told the gulls how many there had been.",
    "Trains are great. The fastest ones run at three hundred kilometres an hour.",
)
"""The fake LLM's replies, in order (the third is long enough to be talked over)."""


@dataclass(frozen=True)
class FakePorts:
    """Loopback ports of the three fakes; the worker's base URLs follow from them."""

    llm: int
    stt: int
    tts: int

    def worker_env(self) -> dict[str, str]:
        """The worker's voice settings for these fakes (the keys are dummies they accept)."""
        return {
            "VOICE_PIPELINE": "on",
            "VOICE_LLM_BASE_URL": f"http://127.0.0.1:{self.llm}/v1",
            "VOICE_STT_BASE_URL": f"http://127.0.0.1:{self.stt}/v1/listen",
            "VOICE_TTS_BASE_URL": f"http://127.0.0.1:{self.tts}",
            "OPENAI_API_KEY": "fake-openai-key",
            "DEEPGRAM_API_KEY": "fake-deepgram-key",
            "CARTESIA_API_KEY": "fake-cartesia-key",
        }


DEMO_PORTS = FakePorts(llm=18301, stt=18302, tts=18303)
"""The ports ``make demo-voice`` and ``make agent-dev-voice`` agree on."""


@contextlib.asynccontextmanager
async def running_fakes(
    ports: FakePorts, *, llm_ttft: float = 0.3, tts_ttfb: float = 0.2, stt_final: float = 0.15
) -> AsyncIterator[tuple[FakeLLM, FakeDeepgram, FakeCartesia]]:
    """The three fakes with the scripted conversation and the given delays, on ``ports``."""
    llm = FakeLLM(LLMConfig(ttft=llm_ttft, replies=REPLIES))
    stt = FakeDeepgram(STTConfig(transcripts=TRANSCRIPTS, final_delay=stt_final))
    tts = FakeCartesia(TTSConfig(ttfb=tts_ttfb))
    try:
        await llm.start(ports.llm)
        await stt.start(ports.stt)
        await tts.start(ports.tts)
        yield llm, stt, tts
    finally:
        for fake in (tts, stt, llm):
            await fake.aclose()


async def converse_in_room(
    access: ServerAccess,
    room: str,
    agent_name: str,
    *,
    turn_timeout: float = 30.0,
    linger: float = 0.0,
) -> list[Exchange]:
    """Dispatch the agent to ``room`` and hold the scripted conversation with it: three
    turns, an interruption over the third reply, and the reply to the interruption; then
    stay ``linger`` seconds before leaving, as a person does who does not hang up at once."""
    if agent_name:
        await create_dispatch(access, room, agent_name)
    else:  # automatic dispatch: creating the room is enough
        async with api.LiveKitAPI(access.http_url, access.api_key, access.api_secret) as lkapi:
            await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
    person = SpeakingParticipant(access, room, f"speaker-{uuid.uuid4().hex[:6]}")
    clips = [speak(phrase) for phrase in PHRASES]
    interruption = speak(INTERRUPTION)
    await person.join()
    try:
        # the agent's session listens once its audio track is up
        await person.agent_track_ready(turn_timeout)
        exchanges = await person.converse(clips, interruption, turn_timeout=turn_timeout)
        await asyncio.sleep(linger)
        return exchanges
    finally:
        await person.leave()


async def _demo(access: ServerAccess, rooms: int, agent_name: str, seconds: float) -> None:
    async with running_fakes(DEMO_PORTS):
        names = [f"voice-demo-{uuid.uuid4().hex[:8]}" for _ in range(rooms)]
        results = await asyncio.wait_for(
            asyncio.gather(*(converse_in_room(access, n, agent_name) for n in names)), seconds
        )
        for name, exchanges in zip(names, results, strict=True):
            for exchange in exchanges:
                heard = exchange.agent_start or exchange.speech_end
                print(
                    f"{name}: {exchange.phrase!r} → agent after {heard - exchange.speech_end:.2f}s"
                )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m devtools.demo_voice")
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument(
        "--worker-env", action="store_true", help="print the worker's voice settings and exit"
    )
    args = parser.parse_args(argv)
    if args.worker_env:
        print(" ".join(f"{k}={v}" for k, v in DEMO_PORTS.worker_env().items()))
        return 0
    if not 1 <= args.rooms <= 5 or not 0 < args.seconds <= 600:
        print("error: 1-5 rooms for at most 600s", file=sys.stderr)
        return 2
    settings = settings_or_exit()
    access = configured_access(settings)
    return run_or_report(_demo(access, args.rooms, settings.AGENT_NAME, args.seconds), "voice demo")


if __name__ == "__main__":
    sys.exit(main())
