"""A Cartesia TTS server: the websocket ``/tts/websocket`` and ``POST /tts/bytes``.

Speaks the protocol of ``livekit-plugins-cartesia``: on the websocket (``X-API-Key`` header,
``cartesia_version`` query) the plugin sends JSON messages with a ``context_id``, a piece of
``transcript``, ``continue`` and the ``output_format``; the fake answers each context with
``chunk`` messages (base64 PCM in the requested encoding and rate), ``timestamps`` messages
when ``add_timestamps`` is set, and a ``done`` message once ``continue`` is false. The audio
is a tone lasting in proportion to the text. The base URL to give the plugin is
:attr:`FakeCartesia.base_url`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from devtools.fakes._server import LoopbackServer, Served
from devtools.fakes.config import TTSConfig, TTSFault

__all__ = ["FakeCartesia"]

_CONNECT_ERRORS = {"reject": 401, "server_error": 500}
_AMPLITUDE = 0.2


class FakeCartesia(LoopbackServer):
    """The Cartesia fake; ``config`` is read at each connection, context and request.

    Fault plans count websocket connections for ``reject`` and ``server_error`` and contexts
    (one per synthesis) for the in-stream faults; ``POST /tts/bytes`` requests count apart.
    """

    def __init__(self, config: TTSConfig | None = None) -> None:
        super().__init__()
        self.config = config or TTSConfig()
        self.app.router.add_get("/tts/websocket", self._websocket)
        self.app.router.add_post("/tts/bytes", self._bytes)

    @property
    def base_url(self) -> str:
        """What ``cartesia.TTS(base_url=...)`` takes."""
        return self.origin

    def _fault(self, index: int) -> TTSFault | None:
        plan = self.config.fault
        return plan.kind if plan is not None and plan.applies(index) else None

    def _refused(self, request: web.Request, served: Served, fault: TTSFault | None) -> bool:
        key = self.config.api_key
        if key is not None and request.headers.get("X-API-Key") != key:
            fault = "reject"
        if fault not in _CONNECT_ERRORS:
            return False
        served.fault = fault
        served.status = _CONNECT_ERRORS[fault]
        served.mark("error", str(served.status))
        return True

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        served, index = self._record("tts_websocket", **dict(request.query))
        if self._refused(request, served, self._fault(index)):
            return web.json_response({"error": served.fault}, status=served.status)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        served.status = 101
        contexts: dict[str, _Context] = {}
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_message(ws, contexts, json.loads(msg.data))
        finally:
            for context in contexts.values():
                context.task.cancel()
        return ws

    def _on_message(
        self, ws: web.WebSocketResponse, contexts: dict[str, _Context], message: dict[str, Any]
    ) -> None:
        context_id = str(message.get("context_id", ""))
        context = contexts.get(context_id)
        if message.get("cancel"):
            if context is not None:
                context.task.cancel()
            return
        if context is None:
            served, index = self._record(
                "tts_context",
                context_id=context_id,
                model=message.get("model_id"),
                output_format=message.get("output_format"),
            )
            served.fault = self._fault(index)
            context = _Context(context_id, served, self.config, message)
            context.task = asyncio.create_task(self._serve_context(ws, context))
            contexts[context_id] = context
        text = str(message.get("transcript", ""))
        context.served.request["text"] = context.served.request.get("text", "") + text
        context.served.request.setdefault("pieces", []).append(text)
        context.texts.put_nowait(text)
        if not message.get("continue", False):
            context.texts.put_nowait(None)

    async def _serve_context(self, ws: web.WebSocketResponse, context: _Context) -> None:
        served, config = context.served, context.config
        await asyncio.sleep(config.ttfb)
        fault = served.fault
        if context.unsupported is not None:
            served.mark("error", "400")
            error = context.message("error", done=True, status_code=400, error=context.unsupported)
            await _send(ws, error)
            return
        if fault == "hang":
            await self._hang()
            return
        if fault == "error_message":
            served.mark("error", "500")
            await _send(
                ws, context.message("error", done=True, status_code=500, error="fake error")
            )
            return
        while (text := await context.texts.get()) is not None:
            if not await self._speak(ws, context, text):
                return
        served.mark("done")
        await _send(ws, context.message("done", done=True, status_code=200))

    async def _speak(self, ws: web.WebSocketResponse, context: _Context, text: str) -> bool:
        """Sends ``text``'s audio and timestamps; False once the socket was dropped."""
        served, config = context.served, context.config
        start = context.audio_s
        for pcm in context.audio(text):
            await _send(ws, context.message("chunk", data=base64.b64encode(pcm).decode()))
            if served.first("first_byte") is None:
                served.mark("first_byte")
                if served.fault == "drop":
                    served.mark("drop")
                    await ws.close(code=1011, message=b"fake drop")
                    return False
            if config.chunk_delay > 0:
                await asyncio.sleep(config.chunk_delay)
        if context.add_timestamps and text.strip():
            stamps = _word_timestamps(text, start, context.audio_s)
            await _send(ws, context.message("timestamps", word_timestamps=stamps))
        return True

    async def _bytes(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = await request.json()
        served, index = self._record(
            "tts_bytes", model=body.get("model_id"), text=body.get("transcript", "")
        )
        fault = self._fault(index)
        if self._refused(request, served, fault):
            return web.json_response({"error": served.fault}, status=served.status)
        context = _Context("", served, self.config, body)
        if context.unsupported is not None:
            served.status = 400
            return web.json_response({"error": context.unsupported}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        await asyncio.sleep(self.config.ttfb)
        if fault == "hang":
            await self._hang()
            return response
        for pcm in context.audio(str(body.get("transcript", ""))):
            await response.write(pcm)
            if served.first("first_byte") is None:
                served.mark("first_byte")
        served.mark("done")
        await response.write_eof()
        return response


@dataclass
class _Context:
    """One synthesis: its text so far, its format and the audio it has produced."""

    context_id: str
    served: Served
    config: TTSConfig
    first: dict[str, Any]
    texts: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    audio_s: float = 0.0
    task: asyncio.Task[None] = field(init=False)

    def __post_init__(self) -> None:
        fmt = self.first.get("output_format") or {}
        self.sample_rate = int(fmt.get("sample_rate", 24000))
        self.encoding = str(fmt.get("encoding", "pcm_s16le"))
        self.unsupported = (
            None
            if self.encoding in ("pcm_s16le", "pcm_f32le")
            else f"the fake encodes pcm_s16le and pcm_f32le, not {self.encoding}"
        )
        self.add_timestamps = bool(self.first.get("add_timestamps"))

    def message(self, kind: str, **fields: Any) -> dict[str, Any]:
        base = {"type": kind, "context_id": self.context_id, "done": False, "status_code": 206}
        return {**base, **fields}

    def audio(self, text: str) -> list[bytes]:
        """The tone for ``text`` in chunks of ``chunk_s``, continuing the previous phase."""
        total = round(len(text.strip()) / self.config.chars_per_second * self.sample_rate)
        per_chunk = max(1, round(self.config.chunk_s * self.sample_rate))
        first = round(self.audio_s * self.sample_rate)
        t = (np.arange(total) + first) / self.sample_rate
        wave = _AMPLITUDE * np.sin(2 * math.pi * self.config.tone_hz * t)
        self.audio_s += total / self.sample_rate
        if self.encoding == "pcm_f32le":
            raw = wave.astype("<f4").tobytes()
        else:
            raw = (wave * 32767).astype("<i2").tobytes()
        step = per_chunk * (4 if self.encoding == "pcm_f32le" else 2)
        return [raw[i : i + step] for i in range(0, len(raw), step)]


def _word_timestamps(text: str, start: float, end: float) -> dict[str, list[Any]]:
    words = text.split()
    step = (end - start) / max(len(words), 1)
    return {
        "words": words,
        "start": [round(start + i * step, 3) for i in range(len(words))],
        "end": [round(start + (i + 1) * step, 3) for i in range(len(words))],
    }


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    # the client may have gone (an interrupted reply); that is not the fake's error
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(message))
