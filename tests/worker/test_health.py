"""Health probe against a real HTTP server answering like the SDK's."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from devtools.harness import free_port
from worker.health import check_health, probe


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body = b"OK"
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        status, body = (
            (200, b'{"agent_name": "a"}') if self.path == "/worker" else (self.status, self.body)
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/", handler
    httpd.shutdown()
    httpd.server_close()


def test_healthy(server: tuple[str, type[_Handler]]) -> None:
    url, _ = server
    assert check_health(url, 2)
    assert probe(url).detail == f"healthy: {url} answered 200 OK"


def test_503_from_the_sdk_is_unhealthy(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.status, handler.body = 503, b"failed to connect to livekit"
    result = probe(url)
    assert not result.healthy
    assert result.detail == f"unhealthy: {url} answered 503 failed to connect to livekit"


def test_refused_and_timeout_are_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert probe(url, 1).detail.startswith(f"unhealthy: cannot reach {url}")


def test_timeout(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.delay = 1.0
    assert probe(url, 0.2).detail == f"unhealthy: no answer from {url} within 0.2s"


@pytest.mark.parametrize(("healthy", "code"), [(True, 0), (False, 1)])
def test_command_line_exit_codes(
    server: tuple[str, type[_Handler]], healthy: bool, code: int
) -> None:
    url, handler = server
    if not healthy:
        handler.status = 503
    run = subprocess.run(
        [sys.executable, "-m", "worker.health", "--url", url, "--timeout", "2", "--info"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == code
    assert "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("healthy" if healthy else "unhealthy")
    if healthy:
        assert lines[1] == '{"agent_name": "a"}'


def test_command_line_refused_is_one_line() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "worker.health", "--url", f"http://127.0.0.1:{free_port()}/"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr == ""
    assert len(run.stdout.splitlines()) == 1
