"""The real OpenAI plugin against the OpenAI-compatible fake: TTFT, usage, tools, faults."""

from __future__ import annotations

import json
import time

import pytest
from livekit.agents import (
    APIConnectionError,
    APIConnectOptions,
    APIStatusError,
    APITimeoutError,
    llm,
)
from livekit.agents.metrics import LLMMetrics
from livekit.plugins import openai

from devtools.fakes import FakeLLM, FaultPlan, LLMConfig, ToolCall

from .conftest import FAULT_TIMEOUT, NO_RETRY, SERVER_TOLERANCE_S, TOLERANCE_S

REPLY = "Sunny and warm, twenty four degrees."


def _chat(text: str = "What is the weather like?") -> llm.ChatContext:
    ctx = llm.ChatContext()
    ctx.add_message(role="user", content=text)
    return ctx


async def _run(
    model: openai.LLM, options: APIConnectOptions = NO_RETRY, **kwargs: object
) -> list[llm.ChatChunk]:
    async with model.chat(chat_ctx=_chat(), conn_options=options, **kwargs) as stream:  # type: ignore[arg-type]
        return [chunk async for chunk in stream]


async def test_streams_the_scripted_reply_with_the_configured_ttft_and_usage() -> None:
    config = LLMConfig(
        ttft=0.3,
        token_delay=0.01,
        replies=(REPLY,),
        input_tokens=120,
        cached_tokens=64,
        output_tokens=9,
    )
    async with FakeLLM(config) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="dummy")
        metrics: list[LLMMetrics] = []
        model.on("metrics_collected", metrics.append)
        await _run(model)  # the first request also pays for the client's connection
        started = time.perf_counter()
        chunks = await _run(model)
        await model.aclose()

    text = "".join(c.delta.content or "" for c in chunks if c.delta)
    assert text == REPLY
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1
    assert (usage[0].prompt_tokens, usage[0].prompt_cached_tokens) == (120, 64)
    assert (usage[0].completion_tokens, usage[0].total_tokens) == (9, 129)
    served = fake.records[-1]
    assert served.request["include_usage"] is True
    assert served.request["model"] == "gpt-4o-mini"
    first_byte = served.first("first_byte")
    assert first_byte is not None
    assert abs(first_byte - served.received_at - 0.3) <= SERVER_TOLERANCE_S
    assert first_byte - started >= 0.3
    assert 0.3 <= metrics[-1].ttft <= 0.3 + TOLERANCE_S
    assert metrics[-1].prompt_tokens == 120
    assert metrics[-1].prompt_cached_tokens == 64


async def test_counts_tokens_when_no_counts_are_scripted() -> None:
    async with FakeLLM(LLMConfig(ttft=0.0, token_delay=0.0, replies=("one two three",))) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="dummy")
        chunks = await _run(model)
        await model.aclose()
    usage = next(c.usage for c in chunks if c.usage)
    # the prompt is "What is the weather like?" (5 words); the reply streams as 3 tokens
    assert (usage.prompt_tokens, usage.completion_tokens) == (5, 3)


async def test_streams_a_tool_call_then_the_next_scripted_reply() -> None:
    arguments = json.dumps({"city": "Paris", "unit": "celsius"})
    config = LLMConfig(
        ttft=0.0, token_delay=0.0, replies=(ToolCall("get_weather", arguments), REPLY)
    )
    async with FakeLLM(config) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="dummy")

        @llm.function_tool
        async def get_weather(city: str, unit: str) -> str:
            """Look up the weather."""
            return f"sunny in {city}"

        first = await _run(model, tools=[get_weather])
        second = await _run(model, tools=[get_weather])
        await model.aclose()

    calls = [call for c in first if c.delta for call in c.delta.tool_calls]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
    assert "".join(c.delta.content or "" for c in second if c.delta) == REPLY
    assert fake.records[0].request["tools"] == ["get_weather"]


async def test_a_wrong_key_is_refused_with_401() -> None:
    async with FakeLLM(LLMConfig(api_key="the-right-key")) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="a-wrong-key")
        with pytest.raises(APIStatusError) as caught:
            await _run(model)
        await model.aclose()
    assert caught.value.status_code == 401
    assert caught.value.retryable is False
    assert (fake.records[0].status, fake.records[0].fault) == (401, "reject")


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("reject", APIStatusError, 401),
        ("rate_limit", APIStatusError, 429),
        ("server_error", APIStatusError, 500),
        ("hang", APITimeoutError, None),
        ("stall", APITimeoutError, None),
        ("drop", APIConnectionError, None),
    ],
)
async def test_each_fault_surfaces_as_the_plugins_error(
    fault: str, error: type[Exception], status: int | None
) -> None:
    config = LLMConfig(ttft=0.0, token_delay=0.0, fault=FaultPlan(fault))  # type: ignore[arg-type]
    async with FakeLLM(config) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="dummy")
        started = time.perf_counter()
        with pytest.raises(error) as caught:
            await _run(model, FAULT_TIMEOUT)
        elapsed = time.perf_counter() - started
        await model.aclose()
    assert type(caught.value) is error
    if status is not None:
        assert isinstance(caught.value, APIStatusError)
        assert caught.value.status_code == status
    assert fake.records[0].fault == fault
    # a hang or a stall ends at the client's timeout, not later
    assert elapsed < FAULT_TIMEOUT.timeout + TOLERANCE_S * 2


async def test_a_fault_plan_fails_only_the_planned_requests() -> None:
    config = LLMConfig(ttft=0.0, token_delay=0.0, fault=FaultPlan("server_error", skip=1, count=1))
    async with FakeLLM(config) as fake:
        model = openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="dummy")
        await _run(model)
        with pytest.raises(APIStatusError):
            await _run(model)
        await _run(model)
        await model.aclose()
    assert [r.status for r in fake.records] == [200, 500, 200]
