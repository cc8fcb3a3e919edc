"""Make sure a LiveKit server answers at ``LIVEKIT_URL`` before ``make agent-dev`` starts.

When ``LIVEKIT_URL`` points at this machine and nothing answers there, start
``livekit-server --dev`` (built once per machine by ``scripts/ensure-infra.sh``) in the
background on that port, bound to loopback, and say so. A remote URL is left alone: the
worker will report it if it cannot connect.

Usage: ``python -m devtools.devserver ensure|stop``
"""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx

from devtools.harness.binaries import binary
from devtools.harness.paths import REPO_ROOT
from worker.settings import settings_or_exit

__all__ = ["ensure", "main", "stop"]

_STATE = REPO_ROOT / ".cache"
_PID_FILE = _STATE / "livekit-server.pid"
_LOG_FILE = _STATE / "livekit-server.log"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_READY_TIMEOUT = 20.0


def _http_url(ws_url: str) -> tuple[str, str, int]:
    parsed = urlparse(ws_url)
    secure = parsed.scheme in ("wss", "https")
    port = parsed.port or (443 if secure else 80)
    host = parsed.hostname or "localhost"
    return f"{'https' if secure else 'http'}://{host}:{port}/", host, port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def ensure(livekit_url: str) -> int:
    """Start the local dev server if ``livekit_url`` is local and silent; returns an exit code."""
    url, host, port = _http_url(livekit_url)
    if _answers(url):
        print(f"LiveKit server answering at {livekit_url}")
        return 0
    if host not in _LOCAL_HOSTS:
        print(f"LiveKit server at {livekit_url} does not answer (not local: left alone)")
        return 0
    _STATE.mkdir(exist_ok=True)
    with _LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            [
                str(binary("livekit-server")),
                "--dev",
                "--bind",
                "127.0.0.1",
                "--node-ip",
                "127.0.0.1",
                "--config-body",
                f"port: {port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if _answers(url):
            print(
                f"Started a local LiveKit dev server at {livekit_url} "
                f"(pid {process.pid}, log {_LOG_FILE.relative_to(REPO_ROOT)}; "
                "stop it with `python -m devtools.devserver stop`)"
            )
            return 0
        if process.poll() is not None:
            break
        time.sleep(0.25)
    print(f"error: the local LiveKit dev server did not start; see {_LOG_FILE}", file=sys.stderr)
    return 1


def stop() -> int:
    """Stop a dev server this module started."""
    if not _PID_FILE.exists():
        print("no local LiveKit dev server was started by make agent-dev")
        return 0
    pid = int(_PID_FILE.read_text())
    subprocess.run(["kill", str(pid)], check=False)
    _PID_FILE.unlink()
    print(f"stopped the local LiveKit dev server (pid {pid})")
    return 0


def main(argv: list[str]) -> int:
    """Dispatch ``ensure`` or ``stop``."""
    if argv == ["ensure"]:
        return ensure(settings_or_exit().LIVEKIT_URL)
    if argv == ["stop"]:
        return stop()
    print("usage: python -m devtools.devserver ensure|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
