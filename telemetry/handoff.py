"""Job-process side of the span relay: hand finished spans to the main process.

A job process is single-use. Exporting its spans itself cost every job a fresh HTTP
connection and an export at exit (about 12 ms of CPU per job, see bench/README.md); the
main process is long-lived and keeps one connection. So a job process's batch processor
hands each batch, encoded as an OTLP ``ExportTraceServiceRequest``, to the main process over
a Unix stream socket in the metrics directory, and the main process exports it
(``telemetry.relay``).

The hand-over is one ``sendall`` per batch (not per span), from the batch processor's
thread, never the job's event loop. Once ``sendall`` returned the bytes are in the kernel's
socket buffer, owned by the main process's socket: a job process killed after that loses
none of them. A batch that cannot be handed over (no main process, a socket error, the main
process not reading for ``send_timeout``) is lost and counted as ``handoff_failed``; a
collector outage costs the job process nothing, as it never talks to the collector.

The frame: 4 bytes payload length, 4 bytes span count (both big-endian), the payload.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .span_ledger import SpanLedger

__all__ = ["FRAME_HEADER", "MAX_FRAME_BYTES", "SPANS_SOCKET", "SpanHandoff", "frame"]

logger = logging.getLogger(__name__)

SPANS_SOCKET = "spans.sock"
FRAME_HEADER = struct.Struct(">II")
# a batch is at most OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans of bounded attributes; anything
# larger is not a frame of ours
MAX_FRAME_BYTES = 64 * 1024 * 1024
_SEND_TIMEOUT = 1.0


def frame(spans: int, payload: bytes) -> bytes:
    """One frame: the header for ``spans`` spans and ``payload``, then the payload."""
    return FRAME_HEADER.pack(len(payload), spans) + payload


class SpanHandoff(SpanExporter):
    """A span exporter that delivers to the main process instead of a collector.

    Args:
        path: the main process's span socket.
        ledger: the process's span accounting (created with ``hands_over=True``).
        send_timeout: longest a hand-over may wait for the main process to read.
    """

    def __init__(self, path: Path, ledger: SpanLedger, *, send_timeout: float = _SEND_TIMEOUT):
        self._path = str(path)
        self._ledger = ledger
        self._send_timeout = send_timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode ``spans`` and hand them over in one write, accounting for them either way."""
        if self._shut_down:
            self._ledger.dropped(len(spans), "shutdown")
            return SpanExportResult.FAILURE
        self._ledger.exporting(len(spans))
        try:
            data = frame(len(spans), encode_spans(spans).SerializeToString())
            delivered = self._send(data)
        except Exception:  # an encoder error must not take the batch thread down
            logger.debug("spans not encoded", exc_info=True)
            delivered = False
        self._ledger.exported(len(spans), delivered=delivered)
        return SpanExportResult.SUCCESS if delivered else SpanExportResult.FAILURE

    def _send(self, data: bytes) -> bool:
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._sock.settimeout(self._send_timeout)
                    self._sock.connect(self._path)
                self._sock.sendall(data)
            except OSError as error:
                # a partly written frame leaves the stream unusable: the main process
                # discards an incomplete frame, and the next batch connects afresh
                logger.debug("spans not handed to the main process: %s", error)
                self._close()
                return False
            return True

    def shutdown(self) -> None:
        """Close the socket; later batches are lost as ``shutdown``."""
        with self._lock:
            self._shut_down = True
            self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
