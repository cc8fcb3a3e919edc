"""The real Cartesia plugin against the Cartesia fake: TTFB, audio, both endpoints, faults."""

from __future__ import annotations

import time

import aiohttp
import numpy as np
import pytest
from livekit.agents import APIConnectOptions, APIError, APIStatusError, APITimeoutError, tts
from livekit.agents.metrics import TTSMetrics
from livekit.plugins import cartesia

from devtools.energy import window_dbfs
from devtools.fakes import FakeCartesia, FaultPlan, TTSConfig

from .conftest import FAULT_TIMEOUT, NO_RETRY, SERVER_TOLERANCE_S, TOLERANCE_S

TEXT = "Sunny and warm. Twenty four degrees."


def _plugin(fake: FakeCartesia, http: aiohttp.ClientSession, **kwargs: object) -> cartesia.TTS:
    return cartesia.TTS(base_url=fake.base_url, api_key="dummy", http_session=http, **kwargs)  # type: ignore[arg-type]


async def _stream(
    model: cartesia.TTS, options: APIConnectOptions = NO_RETRY
) -> list[tuple[float, tts.SynthesizedAudio]]:
    stream = model.stream(conn_options=options)
    stream.push_text(TEXT)
    stream.end_input()
    try:
        return [(time.perf_counter(), audio) async for audio in stream]
    finally:
        await stream.aclose()


def _pcm(audio: list[tuple[float, tts.SynthesizedAudio]]) -> np.ndarray:
    return np.concatenate([np.frombuffer(a.frame.data, np.int16) for _, a in audio])


async def test_streams_audio_with_the_configured_ttfb_and_length(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeCartesia(TTSConfig(ttfb=0.2, chars_per_second=15.0)) as fake:
        model = _plugin(fake, http, sample_rate=16000)
        metrics: list[TTSMetrics] = []
        model.on("metrics_collected", metrics.append)
        await _stream(model)  # the first synthesis also opens the pooled websocket
        started = time.perf_counter()
        audio = await _stream(model)
        await model.aclose()

    assert {a.frame.sample_rate for _, a in audio} == {16000}
    pcm = _pcm(audio)
    context = fake.records[-1]
    assert context.route == "tts_context"
    # the plugin sends the text as its tokenizer splits it, then a lone " " to end
    assert context.request["text"].split() == TEXT.split()
    assert context.request["pieces"][-1] == " "
    expected_s = sum(len(p.strip()) for p in context.request["pieces"]) / 15.0
    assert abs(pcm.size / 16000 - expected_s) <= 0.02
    assert window_dbfs(pcm) > -20.0  # a tone, not silence
    assert audio[0][0] - started >= 0.2
    assert context.request["output_format"] == {
        "container": "raw",
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
    }
    first_byte = context.first("first_byte")
    assert first_byte is not None
    assert abs(first_byte - context.received_at - 0.2) <= SERVER_TOLERANCE_S
    assert 0.2 <= metrics[-1].ttfb <= 0.2 + TOLERANCE_S
    assert metrics[-1].characters_count == len(TEXT)
    assert abs(metrics[-1].audio_duration - expected_s) <= 0.02
    assert [r.route for r in fake.records].count("tts_websocket") == 1


async def test_the_bytes_endpoint_serves_the_same_audio(http: aiohttp.ClientSession) -> None:
    async with FakeCartesia(TTSConfig(ttfb=0.1, chars_per_second=20.0)) as fake:
        model = _plugin(fake, http, sample_rate=24000)
        started = time.perf_counter()
        async with model.synthesize(TEXT, conn_options=NO_RETRY) as stream:
            audio = [(time.perf_counter(), a) async for a in stream]
        await model.aclose()
    assert abs(_pcm(audio).size / 24000 - len(TEXT) / 20.0) <= 0.02
    assert audio[0][0] - started >= 0.1
    assert fake.records[0].route == "tts_bytes"
    assert fake.records[0].request["text"] == TEXT


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("reject", APIStatusError, 401),
        ("server_error", APIStatusError, 500),
        ("error_message", APIError, None),
        ("hang", APITimeoutError, None),
        ("drop", APIStatusError, 1011),
    ],
)
async def test_each_fault_surfaces_as_the_plugins_error(
    http: aiohttp.ClientSession, fault: str, error: type[APIError], status: int | None
) -> None:
    config = TTSConfig(ttfb=0.0, fault=FaultPlan(fault))  # type: ignore[arg-type]
    async with FakeCartesia(config) as fake:
        model = _plugin(fake, http)
        with pytest.raises(error) as caught:
            await _stream(model, FAULT_TIMEOUT)
        await model.aclose()
    assert type(caught.value) is error
    if status is not None:
        assert isinstance(caught.value, APIStatusError)
        assert caught.value.status_code == status
    assert fault in [r.fault for r in fake.records]


async def test_a_wrong_key_is_refused(http: aiohttp.ClientSession) -> None:
    async with FakeCartesia(TTSConfig(api_key="the-right-key")) as fake:
        model = _plugin(fake, http)
        with pytest.raises(APIStatusError) as caught:
            await _stream(model)
        await model.aclose()
    assert caught.value.status_code == 401


async def test_the_requested_sample_rate_is_served(http: aiohttp.ClientSession) -> None:
    async with FakeCartesia(TTSConfig(ttfb=0.0, chars_per_second=10.0)) as fake:
        model = _plugin(fake, http, sample_rate=8000)
        audio = await _stream(model)
        await model.aclose()
    context = fake.records[-1]
    assert context.request["output_format"]["sample_rate"] == 8000
    assert {a.frame.sample_rate for _, a in audio} == {8000}
    expected_s = sum(len(p.strip()) for p in context.request["pieces"]) / 10.0
    assert abs(_pcm(audio).size / 8000 - expected_s) <= 0.02
    assert context.first("done") is not None
