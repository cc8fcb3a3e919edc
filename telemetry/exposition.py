"""The worker's ``/metrics`` endpoint: every process's metrics on one port.

The SDK's own Prometheus server (``prometheus_port``) serves only the multiprocess files,
which cannot hold exemplars, so the main process serves this endpoint instead: the
multiprocess files of all processes (the SDK's ``lk_agents_*`` metrics and the project's),
compacted first so the cost of a scrape does not grow with the jobs served, plus the
exemplar histograms the main process owns. The format follows the scraper's ``Accept``
header: OpenMetrics (with exemplars) for Prometheus, the text format otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from livekit.agents.utils.http_server import HttpServer
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .multiproc import MultiprocessCompactor

__all__ = ["MetricsEndpoint"]

logger = logging.getLogger(__name__)


class MetricsEndpoint:
    """Serves ``/metrics`` for the worker.

    Args:
        host: the bind host.
        port: the port (0 picks a free one; read :attr:`port` after :meth:`start`).
        extra_collectors: collectors of the main process (the exemplar histograms).
        multiproc_dir: the multiprocess directory, or None when not in multiprocess mode,
            in which case ``registry`` is served as is.
        registry: the in-process registry served when there is no multiprocess directory.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        extra_collectors: tuple[Collector, ...] = (),
        multiproc_dir: Path | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._server = HttpServer(host, port)
        self._server.app.add_routes([web.get("/metrics", self._handle)])
        self.compactor = MultiprocessCompactor(multiproc_dir) if multiproc_dir else None
        if multiproc_dir is not None:
            self._registry = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self._registry, path=str(multiproc_dir))  # type: ignore[no-untyped-call]
        else:
            self._registry = registry
        for collector in extra_collectors:
            self._registry.register(collector)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    async def start(self) -> None:
        """Start listening."""
        await self._server.start()

    async def aclose(self) -> None:
        """Stop listening."""
        await self._server.aclose()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Compact, then encode every metric for a scraper with this ``Accept`` header.

        Returns:
            The body and its content type.
        """
        encoder, content_type = choose_encoder(accept)
        if self.compactor is None:
            return encoder(self._registry), content_type
        self.compactor.compact()
        # the lock spans the read of the files, so a concurrent merge is all or nothing
        with self.compactor.lock:
            return encoder(self._registry), content_type

    async def _handle(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        accept = request.headers.get("Accept", "")
        body, content_type = await loop.run_in_executor(None, self.render, accept)
        return web.Response(body=body, headers={"Content-Type": content_type})
