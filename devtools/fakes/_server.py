"""What the provider fakes share: a loopback aiohttp server on a free port, and its records."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = ["LoopbackServer", "Mark", "Served"]

logger = logging.getLogger(__name__)

_HOST = "127.0.0.1"
# a hung handler waits for shutdown, but never longer than any test or demo may run
_HANG_LIMIT_S = 600.0
_SHUTDOWN_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Mark:
    """A moment in serving one request, on the ``time.perf_counter()`` clock."""

    name: str
    at: float
    detail: str = ""


@dataclass
class Served:
    """One request or connection a fake served, with what happened when.

    Attributes:
        route: ``chat``, ``listen``, ``tts_websocket`` or ``tts_bytes``.
        received_at: When the request arrived (``time.perf_counter()``).
        request: What the client asked for (model, query parameters, text, ...).
        status: The HTTP status answered (101 for an accepted websocket).
        fault: The fault injected, if any.
        marks: Moments such as ``first_byte``, ``speech_end``, ``final``, in order.
    """

    route: str
    received_at: float
    request: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    fault: str | None = None
    marks: list[Mark] = field(default_factory=list)

    def mark(self, name: str, detail: str = "") -> float:
        """Records that ``name`` happens now; returns the time."""
        now = time.perf_counter()
        self.marks.append(Mark(name, now, detail))
        return now

    def times(self, name: str) -> list[float]:
        """Every time ``name`` was marked, in order."""
        return [m.at for m in self.marks if m.name == name]

    def first(self, name: str) -> float | None:
        """The first time ``name`` was marked, or None."""
        found = self.times(name)
        return found[0] if found else None

    def details(self, name: str) -> list[str]:
        """The details of every ``name`` mark, in order."""
        return [m.detail for m in self.marks if m.name == name]


class LoopbackServer:
    """An aiohttp application on 127.0.0.1 and a free port; subclasses add the routes."""

    def __init__(self) -> None:
        self.records: list[Served] = []
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._closing = asyncio.Event()
        self._counts: dict[str, int] = {}

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{_HOST}:{self._port}"

    async def start(self, port: int = 0) -> Self:
        """Binds loopback (``port`` 0: a free one) and starts serving."""
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
        )
        await self._runner.setup()
        # binding the socket here is how the bound port of port 0 is known without
        # reaching into the site
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_HOST, port))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        logger.debug("%s serving on %s", type(self).__name__, self.origin)
        return self

    async def aclose(self) -> None:
        """Ends hung handlers and stops the server."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _record(self, route: str, **request: Any) -> tuple[Served, int]:
        """A new record, and its index among the route's records (from 0) for fault plans."""
        served = Served(route=route, received_at=time.perf_counter(), request=dict(request))
        self.records.append(served)
        index = self._counts.get(route, 0)
        self._counts[route] = index + 1
        return served, index

    async def _hang(self) -> None:
        """Waits as a stuck provider would: until the server closes (bounded)."""
        try:
            await asyncio.wait_for(self._closing.wait(), _HANG_LIMIT_S)
        except TimeoutError:
            logger.warning("a hung request was released after %ss", _HANG_LIMIT_S)
