"""Main-process side of the span relay: receive job processes' spans, export them once.

Job processes hand their finished spans, already encoded, over a Unix stream socket
(``telemetry.handoff``). :class:`SpanReceiver` reads the frames in the main process's event
loop (a few reads per job) and passes them to :class:`SpanRelay`, which queues them,
bounded, and exports them from one thread over one long-lived OTLP session: several jobs'
requests concatenated make one request, as protobuf merges repeated fields, so nothing is
decoded on the way.

Failure modes, each counted in the main process's span ledger (``telemetry.span_ledger``):
a full queue drops the arriving batch (``relay_queue_full``); a failed export loses its
batch (``export_failed``, with rate-limited warnings); on shutdown the queue gets a bounded
flush, and what it could not export counts as ``export_timeout`` (in flight) or ``shutdown``
(still queued). The process then logs one warning with what it lost, if anything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExporter

from .exporters import EXPORT_GRACE_MILLIS, ExportWarnings
from .handoff import FRAME_HEADER, MAX_FRAME_BYTES
from .seams import otlp_exporter
from .span_ledger import SpanLedger

__all__ = ["SpanReceiver", "SpanRelay"]

logger = logging.getLogger(__name__)

_MAX_BATCH_BYTES = 4 * 1024 * 1024


class SpanRelay:
    """A bounded queue of encoded span batches, exported by one thread.

    Args:
        exporter: the OTLP span exporter (one session for the process's life).
        ledger: the main process's span accounting.
        max_queue_spans: most spans queued; a batch that would exceed it is dropped.
        batch_delay: how long the thread waits for more batches before an export, so
            that jobs ending close together share one request.
        export: sends encoded bytes through ``exporter`` (tests pass a fake one).
        warnings: the export failure warnings.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        ledger: SpanLedger,
        *,
        max_queue_spans: int = 4096,
        batch_delay: float = 0.5,
        export: Callable[[SpanExporter, bytes], bool] = otlp_exporter.export_encoded,
        warnings: ExportWarnings | None = None,
    ) -> None:
        self.ledger = ledger
        self._exporter = exporter
        self._max_queue_spans = max_queue_spans
        self._batch_delay = batch_delay
        self._export = export
        self._warnings = warnings or ExportWarnings()
        self._queue: collections.deque[tuple[int, bytes]] = collections.deque()
        self._queued_spans = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="span-relay", daemon=True)

    def start(self) -> None:
        """Start the export thread."""
        self._thread.start()

    def submit(self, spans: int, payload: bytes) -> None:
        """Queue one encoded batch of ``spans`` spans; never blocks."""
        self.ledger.received(spans)
        with self._cond:
            if self._queued_spans + spans > self._max_queue_spans:
                full = True
            else:
                full = False
                self._queue.append((spans, payload))
                self._queued_spans += spans
                self._cond.notify()
        if full:
            self.ledger.dropped(spans, "relay_queue_full")

    @property
    def queued_spans(self) -> int:
        """Spans waiting for export."""
        with self._cond:
            return self._queued_spans

    def shutdown_within(self, timeout_seconds: float) -> None:
        """Export what is queued and stop, waiting at most ``timeout_seconds``.

        As a job process's exit flush (``MeteredBatchSpanProcessor.shutdown_within``): an
        export still running after the grace period, or any after a failed one, is retrying
        a collector that does not answer, so the exporter is shut down, which ends its
        retries. What was not exported is then counted lost, and one warning says so.
        """
        timeout = max(timeout_seconds, 0.0)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        grace = 0.0 if self._warnings.failing else min(timeout, EXPORT_GRACE_MILLIS / 1000)
        if self._thread.is_alive():
            self._thread.join(grace)
        if self._thread.is_alive():
            with self._cond:
                self._abandoned = True
            self._exporter.shutdown()
            self._thread.join(max(timeout - grace, 0.0))
        else:
            self._exporter.shutdown()
        self.ledger.report()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._send(batch)

    def _next_batch(self) -> list[tuple[int, bytes]] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._stopping:
                # let the jobs that end about now join this request
                self._cond.wait_for(lambda: self._stopping, self._batch_delay)
            if self._abandoned or not self._queue:
                return None
            batch: list[tuple[int, bytes]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0][1]) <= _MAX_BATCH_BYTES):
                spans, payload = self._queue.popleft()
                self._queued_spans -= spans
                batch.append((spans, payload))
                size += len(payload)
            return batch

    def _send(self, batch: list[tuple[int, bytes]]) -> None:
        spans = sum(count for count, _ in batch)
        self.ledger.exporting(spans)
        try:
            delivered = self._export(self._exporter, b"".join(payload for _, payload in batch))
        except Exception:  # an exporter must not take the relay thread down with it
            logger.debug("span export raised", exc_info=True)
            delivered = False
        self.ledger.exported(spans, delivered=delivered)
        if delivered:
            self._warnings.delivered()
        else:
            self._warnings.failed(spans)


class SpanReceiver:
    """A Unix stream socket on which job processes hand over their spans.

    Args:
        path: the socket path (job processes derive the same path from the settings).
        relay: where the batches go.
    """

    def __init__(self, path: Path, relay: SpanRelay) -> None:
        self.path = path
        self._relay = relay
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen, replacing a stale socket left by a killed worker."""
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while await self._read_frame(reader):
                pass
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _read_frame(self, reader: asyncio.StreamReader) -> bool:
        try:
            length, spans = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
            if length > MAX_FRAME_BYTES:
                logger.warning("Closing a span connection that sent a %d-byte frame", length)
                return False
            payload = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            # the process exited, or died within a frame it never finished handing over
            return False
        self._relay.submit(spans, payload)
        return True

    async def aclose(self, timeout_seconds: float = 2.0) -> None:
        """Stop listening; read what connected processes still send, for at most
        ``timeout_seconds``, and remove the socket."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._connections:
            _, pending = await asyncio.wait(set(self._connections), timeout=timeout_seconds)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.path.unlink(missing_ok=True)
