"""``python -m devtools.fakes``: run the three provider fakes and print their base URLs.

For the keyless demo: start this, point the worker's provider base URLs at the printed values
(dummy API keys), and talk to the agent. Runs until interrupted or for ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import get_args

from devtools.fakes.config import (
    FaultPlan,
    LLMConfig,
    LLMFault,
    STTConfig,
    STTFault,
    TTSConfig,
    TTSFault,
)
from devtools.fakes.llm import FakeLLM
from devtools.fakes.stt import FakeDeepgram
from devtools.fakes.tts import FakeCartesia

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; argparse exits 2 with one line on a bad argument."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fakes", description=__doc__.splitlines()[0]
    )
    llm = parser.add_argument_group("LLM (OpenAI chat completions)")
    llm.add_argument("--llm-ttft", type=_seconds, default=0.3, help="time to first token, s")
    llm.add_argument("--llm-token-delay", type=_seconds, default=0.02, help="between tokens, s")
    llm.add_argument("--llm-reply", action="append", help="a scripted reply (repeatable)")
    llm.add_argument("--llm-input-tokens", type=int, help="reported prompt tokens")
    llm.add_argument("--llm-cached-tokens", type=int, default=0, help="reported cached tokens")
    llm.add_argument("--llm-output-tokens", type=int, help="reported completion tokens")
    llm.add_argument("--llm-fault", choices=get_args(LLMFault), help="fail every request")
    llm.add_argument("--llm-port", type=int, default=0, help="0: a free port")
    stt = parser.add_argument_group("STT (Deepgram live)")
    stt.add_argument("--stt-final-delay", type=_seconds, default=0.15, help="end of speech → final")
    stt.add_argument("--stt-transcript", action="append", help="a scripted transcript (repeatable)")
    stt.add_argument("--stt-fault", choices=get_args(STTFault), help="fail every connection")
    stt.add_argument("--stt-port", type=int, default=0, help="0: a free port")
    tts = parser.add_argument_group("TTS (Cartesia)")
    tts.add_argument("--tts-ttfb", type=_seconds, default=0.2, help="time to first audio byte")
    tts.add_argument("--tts-chars-per-second", type=float, default=15.0, help="speaking rate")
    tts.add_argument("--tts-fault", choices=get_args(TTSFault), help="fail every synthesis")
    tts.add_argument("--tts-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seconds", type=_seconds, help="stop after this long (default: never)")
    return parser.parse_args(argv)


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _configs(args: argparse.Namespace) -> tuple[LLMConfig, STTConfig, TTSConfig]:
    llm = LLMConfig(
        ttft=args.llm_ttft,
        token_delay=args.llm_token_delay,
        input_tokens=args.llm_input_tokens,
        cached_tokens=args.llm_cached_tokens,
        output_tokens=args.llm_output_tokens,
        fault=FaultPlan(args.llm_fault) if args.llm_fault else None,
    )
    if args.llm_reply:
        llm.replies = tuple(args.llm_reply)
    stt = STTConfig(
        final_delay=args.stt_final_delay,
        fault=FaultPlan(args.stt_fault) if args.stt_fault else None,
    )
    if args.stt_transcript:
        stt.transcripts = tuple(args.stt_transcript)
    tts = TTSConfig(
        ttfb=args.tts_ttfb,
        chars_per_second=args.tts_chars_per_second,
        fault=FaultPlan(args.tts_fault) if args.tts_fault else None,
    )
    return llm, stt, tts


async def _serve(args: argparse.Namespace) -> None:
    llm_config, stt_config, tts_config = _configs(args)
    llm, stt, tts = FakeLLM(llm_config), FakeDeepgram(stt_config), FakeCartesia(tts_config)
    try:
        await llm.start(args.llm_port)
        await stt.start(args.stt_port)
        await tts.start(args.tts_port)
        print(f"VOICE_LLM_BASE_URL={llm.base_url}")
        print(f"VOICE_STT_BASE_URL={stt.base_url}")
        print(f"VOICE_TTS_BASE_URL={tts.base_url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.seconds)
    finally:
        for fake in (tts, stt, llm):
            await fake.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the fakes until interrupted; returns the exit code (2: a port could not be bound)."""
    args = parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"python -m devtools.fakes: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
