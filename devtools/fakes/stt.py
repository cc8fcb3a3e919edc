"""A Deepgram live transcription server: the websocket ``/v1/listen`` the Deepgram plugin uses.

Speaks the protocol of ``livekit-plugins-deepgram``'s ``SpeechStream``: the plugin connects with
its options as query parameters (``encoding=linear16``, ``sample_rate``, ``channels``,
``interim_results``, ``vad_events``, ``utterance_end_ms``, ...) and ``Authorization: Token
<key>``, sends binary PCM, and text ``KeepAlive``, ``Finalize`` and ``CloseStream`` messages.
The fake finds utterances in the audio by energy and answers with ``SpeechStarted``, interim
and final ``Results`` carrying the scripted transcript, ``UtteranceEnd`` and ``Metadata``. The
base URL to give the plugin is :attr:`FakeDeepgram.base_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from devtools.energy import EnergyDetector
from devtools.fakes._server import LoopbackServer, Mark, Served
from devtools.fakes.config import STTConfig

__all__ = ["FakeDeepgram"]

_CONNECT_ERRORS = {"reject": 401, "server_error": 503}
_MODEL_INFO = {"name": "general-nova-3", "version": "2025-01-01.0", "arch": "nova-3"}


class FakeDeepgram(LoopbackServer):
    """The Deepgram streaming fake; ``config`` is read at each connection."""

    def __init__(self, config: STTConfig | None = None) -> None:
        super().__init__()
        self.config = config or STTConfig()
        self._utterances = 0
        self.app.router.add_get("/v1/listen", self._listen)

    @property
    def base_url(self) -> str:
        """What ``deepgram.STT(base_url=...)`` takes."""
        return f"{self.origin}/v1/listen"

    def _next_transcript(self) -> str:
        transcripts = self.config.transcripts
        text = transcripts[self._utterances % len(transcripts)]
        self._utterances += 1
        return text

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        config = self.config
        served, index = self._record("listen", **dict(request.query))
        fault = config.fault.kind if config.fault and config.fault.applies(index) else None
        key = request.headers.get("Authorization", "")
        if config.api_key is not None and key != f"Token {config.api_key}":
            fault = "reject"
        served.fault = fault
        if fault in _CONNECT_ERRORS:
            served.status = _CONNECT_ERRORS[fault]
            served.mark("error", str(served.status))
            return web.json_response({"err_code": fault.upper()}, status=served.status)
        options = _Options.parse(request.query)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        served.status = 101
        session = _Session(self, ws, served, config, options)
        await session.run(drop=fault == "drop")
        return ws


@dataclass(frozen=True)
class _Options:
    sample_rate: int
    channels: int
    interim_results: bool
    vad_events: bool
    utterance_end: bool
    language: str

    @staticmethod
    def parse(query: Any) -> _Options:
        if query.get("encoding", "linear16") != "linear16":
            raise web.HTTPBadRequest(text="the fake decodes linear16 only")
        return _Options(
            sample_rate=int(query.get("sample_rate", "16000")),
            channels=int(query.get("channels", "1")),
            interim_results=query.get("interim_results", "false") == "true",
            vad_events=query.get("vad_events", "false") == "true",
            utterance_end="utterance_end_ms" in query,
            language=query.get("language", "en"),
        )


@dataclass
class _Utterance:
    transcript: str
    start: float
    last_interim: float
    interims: int = 0
    end: float = 0.0


@dataclass
class _Session:
    """One websocket: feeds the detector and answers as Deepgram would."""

    fake: FakeDeepgram
    ws: web.WebSocketResponse
    served: Served
    config: STTConfig
    opts: _Options
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    utterance: _Utterance | None = None
    finals: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.detector = EnergyDetector(
            sample_rate=self.opts.sample_rate,
            threshold_dbfs=self.config.threshold_dbfs,
            hangover_s=self.config.hangover,
        )
        self.last_voiced_at = 0.0

    async def run(self, *, drop: bool) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self._audio(msg.data)
                    if drop and self.detector.audio_time >= self.config.drop_after_s:
                        self.served.mark("drop")
                        await self.ws.close(code=1011, message=b"fake drop")
                        return
                elif msg.type == aiohttp.WSMsgType.TEXT and await self._control(msg.data):
                    return
        finally:
            for task in self.finals:
                task.cancel()

    async def _audio(self, data: bytes) -> None:
        pcm = np.frombuffer(data, dtype=np.int16)[:: self.opts.channels]
        before = self.detector.last_voiced_end
        for kind, at in self.detector.push(pcm):
            if kind == "start":
                await self._speech_started(at)
            else:
                self._speech_ended(at)
        if self.detector.last_voiced_end != before:
            self.last_voiced_at = time.perf_counter()
        await self._maybe_interim()

    async def _control(self, text: str) -> bool:
        kind = json.loads(text).get("type")
        self.served.mark(str(kind))
        if kind in ("Finalize", "CloseStream") and self.utterance is not None:
            # as Deepgram does, pending speech is transcribed at once
            self._speech_ended(self.detector.audio_time)
        if kind == "CloseStream":
            await asyncio.gather(*self.finals, return_exceptions=True)
            await self._send(self._metadata())
            await self.ws.close()
            return True
        return False

    async def _speech_started(self, at: float) -> None:
        self.served.mark("speech_start", f"{at:.3f}")
        self.utterance = _Utterance(self.fake._next_transcript(), start=at, last_interim=at)
        if self.opts.vad_events:
            await self._send({"type": "SpeechStarted", "channel": [0, 1], "timestamp": at})

    def _speech_ended(self, at: float) -> None:
        utterance, self.utterance = self.utterance, None
        if utterance is None:
            return
        utterance.end = at
        self.served.marks.append(Mark("last_voiced", self.last_voiced_at, f"{at:.3f}"))
        self.served.mark("speech_end", f"{at:.3f}")
        due = self.last_voiced_at + self.config.final_delay
        task = asyncio.create_task(self._final(utterance, due))
        self.finals.add(task)
        task.add_done_callback(self.finals.discard)

    async def _maybe_interim(self) -> None:
        utterance = self.utterance
        if utterance is None or not self.opts.interim_results:
            return
        now = self.detector.audio_time
        if now - utterance.last_interim < self.config.interim_interval:
            return
        utterance.last_interim = now
        utterance.interims += 1
        # one more word per interim result: the transcript grows as the speech goes on
        words = utterance.transcript.split()
        partial = " ".join(words[: min(len(words), utterance.interims)])
        await self._send(self._results(utterance, partial, now, final=False))
        self.served.mark("interim")

    async def _final(self, utterance: _Utterance, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        message = self._results(utterance, utterance.transcript, utterance.end, final=True)
        await self._send(message)
        self.served.mark("final", utterance.transcript)
        if self.opts.utterance_end:
            end = {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": utterance.end}
            await self._send(end)

    def _results(
        self, utterance: _Utterance, text: str, end: float, *, final: bool
    ) -> dict[str, Any]:
        words = text.split()
        step = (end - utterance.start) / max(len(words), 1)
        timed = [
            {
                "word": w.strip(".,?!").lower(),
                "start": round(utterance.start + i * step, 3),
                "end": round(utterance.start + (i + 1) * step, 3),
                "confidence": 0.99,
                "punctuated_word": w,
            }
            for i, w in enumerate(words)
        ]
        alternative = {"transcript": text, "confidence": 0.99, "words": timed}
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(end - utterance.start, 3),
            "start": round(utterance.start, 3),
            "is_final": final,
            "speech_final": final,
            "from_finalize": False,
            "channel": {"alternatives": [alternative]},
            "metadata": {
                "request_id": self.request_id,
                "model_info": _MODEL_INFO,
                "model_uuid": "00000000-0000-0000-0000-000000000000",
            },
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": "",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(self.detector.audio_time, 3),
            "channels": self.opts.channels,
            "models": [_MODEL_INFO["name"]],
            "model_info": {_MODEL_INFO["name"]: _MODEL_INFO},
        }

    async def _send(self, message: dict[str, Any]) -> None:
        # the client may be gone already (a cancelled stream); that is not the fake's error
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(message))
