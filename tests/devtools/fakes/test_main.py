"""``python -m devtools.fakes``: serves the three fakes, prints their base URLs, stops."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devtools.fakes.__main__ import main, parse_args

REPO = Path(__file__).resolve().parents[3]


def test_runs_the_fakes_prints_their_urls_and_stops() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.fakes", "--seconds", "30", "--llm-reply", "Hi there"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        assert set(urls) == {"VOICE_LLM_BASE_URL", "VOICE_STT_BASE_URL", "VOICE_TTS_BASE_URL"}
        assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
        assert urls["VOICE_LLM_BASE_URL"].endswith("/v1")
        assert urls["VOICE_STT_BASE_URL"].endswith("/v1/listen")
        body = b'{"model": "m", "messages": [], "stream": false}'
        request = urllib.request.Request(
            urls["VOICE_LLM_BASE_URL"] + "/chat/completions", data=body, method="POST"
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=5) as answer:
            assert b'"content": "Hi there"' in answer.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_flags_become_the_configs() -> None:
    args = parse_args(["--llm-ttft", "0.5", "--stt-final-delay", "0.2", "--tts-fault", "hang"])
    assert (args.llm_ttft, args.stt_final_delay, args.tts_fault) == (0.5, 0.2, "hang")


def test_a_negative_delay_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--tts-ttfb", "-0.1"])
    assert caught.value.code == 2
    assert (
        capsys.readouterr().err.splitlines()[-1].endswith("argument --tts-ttfb: -0.1 is negative")
    )


def test_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--llm-port", str(port), "--seconds", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m devtools.fakes: cannot listen:")
    assert len(err.splitlines()) == 1
