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
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web
from livekit.agents.utils.http_server import HttpServer
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .multiproc import MultiprocessCompactor
from .seams.prom_client import has_header

__all__ = ["SDK_RENAMES", "MetricsEndpoint"]

logger = logging.getLogger(__name__)

SDK_RENAMES = {
    "lk_agents_active_job_count": "lk_agents_active_jobs",
    "lk_agents_child_process_count": "lk_agents_child_processes",
}
"""SDK gauges whose names end in ``_count``, which Prometheus reserves for histograms and
summaries (``promtool check metrics`` flags them); they are exposed under these names."""


class _RenamingCollector(Collector):
    """Exposes ``inner``'s families, renaming those listed in ``renames``."""

    def __init__(self, inner: Collector, renames: dict[str, str]) -> None:
        self._inner = inner
        self._renames = renames

    def collect(self) -> Iterable[Metric]:
        for family in self._inner.collect():
            new_name = self._renames.get(family.name)
            if new_name is not None:
                family.name = new_name
                family.samples = [s._replace(name=new_name) for s in family.samples]
            yield family


class _SizedFiles(Collector):
    """The multiprocess files' metrics, leaving out any file still being created.

    A process creating a metric file opens it empty, then sizes it. A scrape in between
    met a 0-byte file, and ``MultiProcessCollector`` raised ``struct.error``: the scrape
    failed. Such a file holds nothing yet; the next scrape reads it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def collect(self) -> Iterable[Metric]:
        files = [str(f) for f in sorted(self._path.glob("*.db")) if has_header(f)]
        return MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call,no-any-return]


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
        self._registry = CollectorRegistry(auto_describe=True)
        if multiproc_dir is not None:
            source: Collector = _SizedFiles(multiproc_dir)
        else:
            source = registry
        self._registry.register(_RenamingCollector(source, SDK_RENAMES))
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
