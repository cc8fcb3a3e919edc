"""An OpenAI-compatible chat completions server: ``POST /v1/chat/completions``.

Streams server-sent events chunk for chunk as the OpenAI API does (a role chunk, content or
tool-call deltas, a ``finish_reason`` chunk, then with ``stream_options.include_usage`` a last
chunk with no choices and the usage, then ``data: [DONE]``), so the real ``openai`` client
and ``livekit-plugins-openai`` parse it unchanged. The base URL to give the plugin is
:attr:`FakeLLM.base_url` (``http://127.0.0.1:<port>/v1``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from aiohttp import web

from devtools.fakes._server import LoopbackServer, Served
from devtools.fakes.config import LLMConfig, LLMFault, ToolCall

__all__ = ["FakeLLM"]

_ERRORS: dict[str, tuple[int, str, str]] = {
    "reject": (401, "invalid_request_error", "invalid_api_key"),
    "rate_limit": (429, "requests", "rate_limit_exceeded"),
    "server_error": (500, "server_error", "internal_error"),
}
_TOKEN = re.compile(r"\s*\S+")
_ARGUMENT_PIECE = 8


class FakeLLM(LoopbackServer):
    """The OpenAI chat completions fake; ``config`` may be replaced between requests."""

    def __init__(self, config: LLMConfig | None = None) -> None:
        super().__init__()
        self.config = config or LLMConfig()
        self.app.router.add_post("/v1/chat/completions", self._chat)

    @property
    def base_url(self) -> str:
        """What ``openai.LLM(base_url=...)`` takes."""
        return f"{self.origin}/v1"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = await request.json()
        config = self.config
        served, index = self._record(
            "chat",
            model=body.get("model"),
            stream=bool(body.get("stream")),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            messages=len(body.get("messages", [])),
            tools=[t.get("function", {}).get("name") for t in body.get("tools", [])],
        )
        fault = config.fault.kind if config.fault and config.fault.applies(index) else None
        if config.api_key is not None and not _has_key(request, config.api_key):
            fault = "reject"
        served.fault = fault
        if fault in _ERRORS:
            return _error(served, fault)
        if fault == "hang":
            await self._hang()
            return web.Response(status=504)
        reply = config.replies[index % len(config.replies)]
        if not body.get("stream"):
            return await _complete(served, body, config, reply)
        return await self._stream(
            request, served=served, body=body, config=config, reply=reply, fault=fault
        )

    async def _stream(
        self,
        request: web.Request,
        *,
        served: Served,
        body: dict[str, Any],
        config: LLMConfig,
        reply: str | ToolCall,
        fault: LLMFault | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "x-request-id": f"req_{_hex()}"}
        )
        await response.prepare(request)
        chunk = _ChunkMaker(body.get("model", ""), served.request["include_usage"])
        await asyncio.sleep(config.ttft)
        deltas = _deltas(reply)
        for i, delta in enumerate(deltas):
            if i == len(deltas) // 2 and fault in ("stall", "drop"):
                served.mark(fault)
                if fault == "drop":
                    # cut the TCP connection mid-body, as a proxy or a crashed server would
                    if request.transport is not None:
                        request.transport.close()
                    return response
                await self._hang()
                return response
            if i > 0:
                await asyncio.sleep(config.token_delay)
            await response.write(_sse(chunk.choice(delta, None)))
            if i == 0:
                served.mark("first_byte")
        finish = "tool_calls" if isinstance(reply, ToolCall) else "stop"
        await response.write(_sse(chunk.choice({}, finish)))
        if chunk.include_usage:
            await response.write(_sse(chunk.usage(_usage(body, config, len(deltas)))))
        await response.write(b"data: [DONE]\n\n")
        served.mark("done")
        await response.write_eof()
        return response


class _ChunkMaker:
    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = f"chatcmpl-{_hex()}"
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

    def _base(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
        }
        if self.include_usage:
            base["usage"] = None
        return base

    def choice(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._base(), "choices": [choice]}

    def usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        return {**self._base(), "choices": [], "usage": usage}


def _deltas(reply: str | ToolCall) -> list[dict[str, Any]]:
    """The role delta, then one delta per token (or per piece of a tool call's arguments)."""
    if isinstance(reply, ToolCall):
        call = {
            "index": 0,
            "id": f"call_{_hex()[:24]}",
            "type": "function",
            "function": {"name": reply.name, "arguments": ""},
        }
        first = {"role": "assistant", "content": None, "tool_calls": [call]}
        args = reply.arguments
        pieces = [args[i : i + _ARGUMENT_PIECE] for i in range(0, len(args), _ARGUMENT_PIECE)]
        return [first] + [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces
        ]
    tokens = _TOKEN.findall(reply)
    first = {"role": "assistant", "content": tokens[0] if tokens else "", "refusal": None}
    return [first] + [{"content": t} for t in tokens[1:]]


def _usage(body: dict[str, Any], config: LLMConfig, streamed: int) -> dict[str, Any]:
    prompt = config.input_tokens if config.input_tokens is not None else _count_words(body)
    completion = config.output_tokens if config.output_tokens is not None else streamed
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": config.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _count_words(body: dict[str, Any]) -> int:
    words = 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content)
        words += len(str(content or "").split())
    return words


async def _complete(
    served: Served, body: dict[str, Any], config: LLMConfig, reply: str | ToolCall
) -> web.Response:
    """The non-streaming answer, for completeness: one JSON body after ``ttft``."""
    await asyncio.sleep(config.ttft)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(reply, ToolCall):
        message["tool_calls"] = _deltas(reply)[0]["tool_calls"]
        message["tool_calls"][0]["function"]["arguments"] = reply.arguments
    else:
        message["content"] = reply
    finish = "tool_calls" if isinstance(reply, ToolCall) else "stop"
    served.mark("first_byte")
    return web.json_response(
        {
            "id": f"chatcmpl-{_hex()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(body, config, len(_TOKEN.findall(message["content"] or ""))),
        }
    )


def _error(served: Served, fault: str) -> web.Response:
    status, kind, code = _ERRORS[fault]
    served.status = status
    served.mark("error", str(status))
    message = {"reject": "Incorrect API key provided.", "rate_limit": "Rate limit reached."}
    error = {
        "message": message.get(fault, "The server had an error processing your request."),
        "type": kind,
        "param": None,
        "code": code,
    }
    return web.json_response({"error": error}, status=status)


def _has_key(request: web.Request, key: str) -> bool:
    return request.headers.get("Authorization", "") == f"Bearer {key}"


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _hex() -> str:
    return uuid.uuid4().hex
