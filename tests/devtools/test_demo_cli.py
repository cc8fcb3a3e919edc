"""The demo commands' shared parts: the configured server, one line for a failed run."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from livekit import api

from devtools.demo_cli import configured_access, run_or_report
from devtools.synthetic import ServerAccess
from worker.settings import RuntimeSettings


def test_the_access_is_the_configured_server() -> None:
    settings = RuntimeSettings(
        _env_file=None,
        LIVEKIT_URL="wss://lk.example:7880",
        LIVEKIT_API_KEY="key",
        LIVEKIT_API_SECRET="s3cret",
    )
    assert configured_access(settings) == ServerAccess("wss://lk.example:7880", "key", "s3cret")


async def _fine() -> None:
    return None


async def _refused() -> None:
    raise api.TwirpError("unavailable", "server down", status=503)


async def _unreachable() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


def test_a_run_that_ends_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_or_report(_fine(), "demo traffic") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("demo", "message"),
    [
        (
            _refused,
            "error: voice demo failed: "
            "ServerError(code=unavailable, message=server down, status=503)",
        ),
        (_unreachable, "error: voice demo failed: [Errno 111] Connection refused"),
    ],
)
def test_a_failed_run_is_one_line_and_exit_code_1(
    demo: Callable[[], Coroutine[Any, Any, None]],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_or_report(demo(), "voice demo") == 1
    assert capsys.readouterr().err == message + "\n"
