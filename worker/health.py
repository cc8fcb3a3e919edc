"""Health probe for the worker's HTTP server.

The SDK serves ``/`` on the health port: ``200 OK`` while the worker can take jobs, ``503``
with a reason (for example ``failed to connect to livekit``) when it cannot. ``/worker``
returns the worker's info as JSON (agent name, active jobs, load, SDK version). This probe
reads ``/`` and, with ``--info``, prints ``/worker`` too.

Usage::

    python -m worker.health [--url http://127.0.0.1:8081/] [--timeout 2] [--info]

Exit code 0 when healthy, 1 otherwise; every failure is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

__all__ = ["HealthResult", "check_health", "main", "probe"]

DEFAULT_URL = "http://127.0.0.1:8081/"


@dataclass(frozen=True)
class HealthResult:
    """What the probe found: whether the worker is healthy, and a one-line detail."""

    healthy: bool
    detail: str


def probe(url: str = DEFAULT_URL, timeout: float = 2.0) -> HealthResult:
    """Query the health endpoint once.

    Args:
        url: the worker's health URL (``/`` on the health port).
        timeout: seconds for connect and read together.

    Returns:
        The result; never raises for network or HTTP errors.
    """
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return HealthResult(False, f"unhealthy: no answer from {url} within {timeout:g}s")
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        return HealthResult(False, f"unhealthy: cannot reach {url} ({_one_line(reason)})")
    body = _one_line(response.text)[:200]
    if response.status_code == 200:
        return HealthResult(True, f"healthy: {url} answered {response.status_code} {body}")
    return HealthResult(False, f"unhealthy: {url} answered {response.status_code} {body}")


def check_health(url: str = DEFAULT_URL, timeout: float = 2.0) -> bool:
    """Whether the worker at ``url`` reports itself healthy.

    Args:
        url: the worker's health URL (``/`` on the health port).
        timeout: seconds to wait for an answer.
    """
    return probe(url, timeout).healthy


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _worker_info(url: str, timeout: float) -> str:
    info_url = urljoin(url, "/worker")
    try:
        return _one_line(httpx.get(info_url, timeout=timeout).text)
    except httpx.HTTPError as error:
        return f"cannot read {info_url} ({_one_line(str(error)) or type(error).__name__})"


def main(argv: list[str] | None = None) -> int:
    """Run the probe from the command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.health", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--url",
        default=None,
        help=f"health URL (default {DEFAULT_URL}, " "or BIND_HOST/HEALTH_PORT from the settings)",
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--info", action="store_true", help="also print /worker")
    args = parser.parse_args(argv)
    url = args.url or _url_from_settings()
    result = probe(url, args.timeout)
    print(result.detail)
    if args.info and result.healthy:
        print(_worker_info(url, args.timeout))
    return 0 if result.healthy else 1


def _url_from_settings() -> str:
    from .settings import settings_or_exit

    settings = settings_or_exit()
    host = "127.0.0.1" if settings.BIND_HOST in ("", "0.0.0.0", "::") else settings.BIND_HOST
    return f"http://{host}:{settings.HEALTH_PORT}/"


if __name__ == "__main__":
    sys.exit(main())
