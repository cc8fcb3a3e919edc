"""The real Deepgram plugin against the Deepgram fake, fed real speech."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from livekit.agents import APIStatusError, stt
from livekit.plugins import deepgram

from devtools.fakes import FakeDeepgram, FaultPlan, STTConfig
from devtools.speech import SAMPLE_RATE, SpeechClip, pcm_frames, speak

from .conftest import NO_RETRY, SERVER_TOLERANCE_S, TOLERANCE_S

PHRASE = "What is the weather like in Paris today"
SCRIPTED = "What is the weather like in Paris today?"
LEAD_S = 0.3


@pytest.fixture(scope="module")
def clip() -> SpeechClip:
    return speak(PHRASE)


async def _transcribe(
    fake: FakeDeepgram,
    http: aiohttp.ClientSession,
    clip: SpeechClip,
    *,
    realtime: bool,
) -> list[tuple[float, stt.SpeechEvent]]:
    """Streams the clip (between silences) through the plugin; the events and their times.

    Stops at the end of speech: after its input ends, the plugin waits out its 5 s keepalive
    before the stream closes.
    """
    model = deepgram.STT(base_url=fake.base_url, api_key="dummy", http_session=http)
    stream = model.stream(conn_options=NO_RETRY)

    async def push() -> None:
        for frame in clip.frames(lead_s=LEAD_S, trail_s=0.5):
            stream.push_frame(frame)
            await asyncio.sleep(frame.duration if realtime else 0)
        stream.end_input()

    pusher = asyncio.create_task(push())
    events: list[tuple[float, stt.SpeechEvent]] = []
    try:
        async for event in stream:
            events.append((time.perf_counter(), event))
            if event.type == stt.SpeechEventType.END_OF_SPEECH:
                return events
        return events
    finally:
        pusher.cancel()
        await stream.aclose()
        await model.aclose()


async def test_real_speech_gets_the_scripted_final_transcript_after_the_configured_delay(
    http: aiohttp.ClientSession, clip: SpeechClip
) -> None:
    config = STTConfig(transcripts=(SCRIPTED,), final_delay=0.3, interim_interval=0.4)
    async with FakeDeepgram(config) as fake:
        events = await _transcribe(fake, http, clip, realtime=True)

    kinds = [e.type for _, e in events]
    assert kinds[0] == stt.SpeechEventType.START_OF_SPEECH
    assert kinds[-2:] == [stt.SpeechEventType.FINAL_TRANSCRIPT, stt.SpeechEventType.END_OF_SPEECH]
    assert stt.SpeechEventType.INTERIM_TRANSCRIPT in kinds
    finals = [(t, e) for t, e in events if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    assert [e.alternatives[0].text for _, e in finals] == [SCRIPTED]

    served = fake.records[0]
    assert served.request["encoding"] == "linear16"
    assert served.request["sample_rate"] == "16000"
    # the fake heard the speech where the clip has it (10 ms windows, 30 ms onset)
    (start,) = (float(d) for d in served.details("speech_start"))
    (end,) = (float(d) for d in served.details("speech_end"))
    assert abs(start - (LEAD_S + clip.voiced.start)) <= 0.05
    assert abs(end - (LEAD_S + clip.voiced.end)) <= 0.05
    last_voiced, final = served.first("last_voiced"), served.first("final")
    assert last_voiced is not None
    assert final is not None
    assert abs(final - last_voiced - 0.3) <= SERVER_TOLERANCE_S
    assert 0.3 <= finals[0][0] - last_voiced <= 0.3 + TOLERANCE_S
    assert served.times("KeepAlive")


async def test_each_utterance_gets_the_next_scripted_transcript(
    http: aiohttp.ClientSession, clip: SpeechClip
) -> None:
    config = STTConfig(transcripts=("first", "second"), final_delay=0.0)
    async with FakeDeepgram(config) as fake:
        one = await _transcribe(fake, http, clip, realtime=False)
        two = await _transcribe(fake, http, clip, realtime=False)
    texts = [
        e.alternatives[0].text
        for _, e in one + two
        if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    ]
    assert texts == ["first", "second"]


@pytest.mark.parametrize(("fault", "status"), [("reject", 401), ("server_error", 503)])
async def test_a_refused_connection_surfaces_as_api_status_error(
    http: aiohttp.ClientSession, clip: SpeechClip, fault: str, status: int
) -> None:
    async with FakeDeepgram(STTConfig(fault=FaultPlan(fault))) as fake:  # type: ignore[arg-type]
        with pytest.raises(APIStatusError) as caught:
            await _transcribe(fake, http, clip, realtime=False)
    assert caught.value.status_code == status
    assert fake.records[0].status == status


async def test_a_wrong_key_is_refused(http: aiohttp.ClientSession, clip: SpeechClip) -> None:
    async with FakeDeepgram(STTConfig(api_key="the-right-key")) as fake:
        with pytest.raises(APIStatusError) as caught:
            await _transcribe(fake, http, clip, realtime=False)
    assert caught.value.status_code == 401


async def test_a_dropped_socket_surfaces_as_api_status_error(
    http: aiohttp.ClientSession, clip: SpeechClip
) -> None:
    async with FakeDeepgram(STTConfig(fault=FaultPlan("drop"), drop_after_s=0.2)) as fake:
        with pytest.raises(APIStatusError) as caught:
            await _transcribe(fake, http, clip, realtime=False)
    assert caught.value.status_code == 1011
    assert fake.records[0].times("drop")


async def test_flush_finalizes_speech_that_no_silence_ended(
    http: aiohttp.ClientSession, clip: SpeechClip
) -> None:
    speech_only = clip.pcm[: int(clip.voiced.end * SAMPLE_RATE)]
    async with FakeDeepgram(STTConfig(transcripts=(SCRIPTED,), final_delay=0.0)) as fake:
        model = deepgram.STT(base_url=fake.base_url, api_key="dummy", http_session=http)
        stream = model.stream(conn_options=NO_RETRY)
        for frame in pcm_frames(speech_only):
            stream.push_frame(frame)
        stream.flush()  # the plugin sends Finalize
        final = None
        async with asyncio.timeout(5):
            async for event in stream:
                if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                    final = event
                    break
        await stream.aclose()
        await model.aclose()
    assert final is not None
    assert final.alternatives[0].text == SCRIPTED
    served = fake.records[0]
    finalize, speech_end = served.first("Finalize"), served.first("speech_end")
    assert finalize is not None
    assert speech_end is not None
    # only the Finalize message could end it: no silence followed the speech
    assert finalize <= speech_end
