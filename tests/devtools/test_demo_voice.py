"""The keyless voice demo: the worker settings it prints are valid and point at its fakes."""

from __future__ import annotations

import pytest

from devtools.demo_voice import DEMO_PORTS, PHRASES, REPLIES, TRANSCRIPTS, main
from worker.settings import RuntimeSettings


def test_the_printed_worker_env_is_valid_and_names_the_fake_ports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--worker-env"]) == 0
    env = dict(item.split("=", 1) for item in capsys.readouterr().out.split())
    settings = RuntimeSettings(_env_file=None, **env)  # type: ignore[arg-type]
    assert settings.VOICE_PIPELINE == "on"
    assert settings.missing_voice_keys == []
    assert f"http://127.0.0.1:{DEMO_PORTS.llm}/v1" == settings.VOICE_LLM_BASE_URL
    assert f"http://127.0.0.1:{DEMO_PORTS.stt}/v1/listen" == settings.VOICE_STT_BASE_URL
    assert f"http://127.0.0.1:{DEMO_PORTS.tts}" == settings.VOICE_TTS_BASE_URL


def test_the_script_has_one_transcript_and_one_reply_per_utterance() -> None:
    assert TRANSCRIPTS[: len(PHRASES)] == PHRASES
    assert len(TRANSCRIPTS) == len(REPLIES) == len(PHRASES) + 1


def test_out_of_range_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rooms", "50"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
