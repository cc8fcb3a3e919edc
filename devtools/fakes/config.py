"""What the provider fakes serve: delays, scripted replies and faults, one dataclass per fake.

A fake reads its config at each request or connection, so a test may swap ``fake.config``
between turns (for example to fail only the second turn) without restarting the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = [
    "FaultPlan",
    "LLMConfig",
    "LLMFault",
    "STTConfig",
    "STTFault",
    "TTSConfig",
    "TTSFault",
    "ToolCall",
]

LLMFault = Literal["reject", "rate_limit", "server_error", "hang", "stall", "drop"]
"""``reject`` 401 (key refused), ``rate_limit`` 429, ``server_error`` 500, ``hang`` no answer
at all, ``stall`` the stream stops after half the reply, ``drop`` the connection is cut there."""

STTFault = Literal["reject", "server_error", "drop"]
"""``reject`` 401 at connect, ``server_error`` 503 at connect, ``drop`` the socket is cut once
``STTConfig.drop_after_s`` of audio has arrived."""

TTSFault = Literal["reject", "server_error", "error_message", "hang", "drop"]
"""``reject`` 401 at connect, ``server_error`` 500 at connect (or on the bytes endpoint),
``error_message`` an in-band error message, ``hang`` no audio ever, ``drop`` the socket is cut
after the first audio chunk."""

F = TypeVar("F", LLMFault, STTFault, TTSFault)


@dataclass(frozen=True)
class FaultPlan(Generic[F]):
    """Fail requests (or connections) ``skip`` … ``skip + count - 1``, counted from 0.

    Attributes:
        kind: The fault to inject.
        skip: How many are served normally first.
        count: How many then fail; None fails every later one.
    """

    kind: F
    skip: int = 0
    count: int | None = None

    def applies(self, index: int) -> bool:
        """Whether the ``index``-th request (from 0) gets the fault."""
        if index < self.skip:
            return False
        return self.count is None or index < self.skip + self.count


@dataclass(frozen=True)
class ToolCall:
    """A scripted reply that calls a function tool instead of speaking."""

    name: str
    arguments: str = "{}"


@dataclass
class LLMConfig:
    """The OpenAI-compatible chat completions fake.

    Attributes:
        ttft: Seconds from the request to the first content token.
        token_delay: Seconds between tokens.
        replies: Scripted replies, used in turn (request ``n`` gets ``replies[n % len]``).
        input_tokens: Reported prompt tokens; None counts the request's words.
        cached_tokens: Reported cached prompt tokens.
        output_tokens: Reported completion tokens; None counts the streamed tokens.
        api_key: If set, any other bearer key is refused with 401.
        fault: Which requests fail, and how.
    """

    ttft: float = 0.3
    token_delay: float = 0.02
    replies: tuple[str | ToolCall, ...] = ("Hello! How can I help you today?",)
    input_tokens: int | None = None
    cached_tokens: int = 0
    output_tokens: int | None = None
    api_key: str | None = None
    fault: FaultPlan[LLMFault] | None = None


@dataclass
class STTConfig:
    """The Deepgram streaming fake.

    Attributes:
        transcripts: Scripted transcripts, one per detected utterance, used in turn.
        final_delay: Seconds from the arrival of the utterance's last voiced audio to its final
            result; in effect at least ``hangover`` plus one 50 ms chunk of the plugin, since
            the end is only known once that much silence has arrived.
        interim_interval: Seconds of speech audio between interim results.
        hangover: Seconds of silence that end an utterance (espeak-ng leaves up to 40 ms
            between words).
        threshold_dbfs: Level above which a 10 ms window counts as speech.
        api_key: If set, any other ``Token`` key is refused with 401.
        drop_after_s: With the ``drop`` fault, seconds of audio before the socket is cut.
        fault: Which connections fail, and how.
    """

    transcripts: tuple[str, ...] = ("What is the weather like today?",)
    final_delay: float = 0.15
    interim_interval: float = 0.3
    hangover: float = 0.08
    threshold_dbfs: float = -40.0
    api_key: str | None = None
    drop_after_s: float = 0.5
    fault: FaultPlan[STTFault] | None = None


@dataclass
class TTSConfig:
    """The Cartesia fake.

    Attributes:
        ttfb: Seconds from a context's first text to its first audio chunk.
        chars_per_second: Speaking rate: the audio lasts ``len(text) / chars_per_second``.
        chunk_s: Seconds of audio per chunk.
        chunk_delay: Seconds between chunks (0: as fast as the socket takes them).
        tone_hz: Frequency of the tone that stands in for speech.
        api_key: If set, any other ``X-API-Key`` is refused with 401.
        fault: Which connections (or bytes requests) fail, and how.
    """

    ttfb: float = 0.2
    chars_per_second: float = 15.0
    chunk_s: float = 0.04
    chunk_delay: float = 0.0
    tone_hz: float = 220.0
    api_key: str | None = None
    fault: FaultPlan[TTSFault] | None = None
