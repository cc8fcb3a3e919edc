"""Histograms with ``trace_id`` exemplars, owned by the main process.

prometheus_client's multiprocess mode stores numbers in memory-mapped files and drops
exemplars, so a histogram observed in a job process cannot link a slow point on a graph to
that room's trace. Instead a job process sends its observation (value and trace id, about
100 bytes) as one datagram on a Unix socket to the main process, which observes it into an
in-memory histogram and exposes it with the exemplar in the OpenMetrics format.

The cost is one ``sendto`` per observation (two per job, about 8 µs each); when the main
process's queue is full the sender waits up to 100 ms, and a datagram that still cannot be
delivered (main process gone) loses that one observation and nothing else.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from . import catalogue
from .catalogue import Metric

__all__ = [
    "DISPATCH_LATENCY",
    "JOB_DURATION",
    "VOICE_TURN_LATENCY",
    "ExemplarHistogram",
    "ExemplarHistograms",
    "ObservationReceiver",
    "ObservationReporter",
    "voice_stage_key",
]

logger = logging.getLogger(__name__)

DISPATCH_LATENCY = "dispatch_latency"
JOB_DURATION = "job_duration"
VOICE_TURN_LATENCY = "voice_turn_latency"
_MAX_DATAGRAM = 512
_SEND_TIMEOUT = 0.1


class _Buckets:
    """One series' cumulative-to-be counts, sum and latest exemplar per bucket."""

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.exemplars: list[Exemplar | None] = [None] * size
        self.sum = 0.0


class ExemplarHistogram:
    """A thread-safe histogram that keeps the latest exemplar of each bucket.

    Args:
        name: the metric name without the ``_bucket``/``_sum``/``_count`` suffixes.
        documentation: the help text.
        buckets: the finite upper bounds, ascending; ``+Inf`` is added.
        label: the name of its one label, if any (``stage``).
        label_values: that label's closed set of values; every one is exposed from the start.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        label: str | None = None,
        label_values: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self._label = label
        self._bounds = [*sorted(buckets), math.inf]
        values = tuple(label_values) if label is not None else ("",)
        self._series = {value: _Buckets(len(self._bounds)) for value in values}
        self._lock = threading.Lock()

    def observe(self, value: float, trace_id: str | None = None, label_value: str = "") -> None:
        """Add one observation; ``trace_id`` (32 hex digits) becomes the bucket's exemplar.

        An unknown ``label_value`` is ignored: the label's values are a closed set.
        """
        series = self._series.get(label_value)
        if series is None:
            return
        index = bisect.bisect_left(self._bounds, value)
        exemplar = Exemplar({"trace_id": trace_id}, value, time.time()) if trace_id else None
        with self._lock:
            series.counts[index] += 1
            series.sum += value
            if exemplar is not None:
                series.exemplars[index] = exemplar

    def collect(self) -> HistogramMetricFamily:
        """The histogram as a metric family, cumulative buckets with their exemplars."""
        labels = [self._label] if self._label is not None else []
        family = HistogramMetricFamily(self.name, self.documentation, labels=labels)
        with self._lock:
            snapshot = {
                value: (list(s.counts), list(s.exemplars), s.sum)
                for value, s in self._series.items()
            }
        for value, (counts, exemplars, total) in snapshot.items():
            cumulative = 0
            buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
            for bound, count, exemplar in zip(self._bounds, counts, exemplars, strict=True):
                cumulative += count
                le = "+Inf" if math.isinf(bound) else repr(float(bound))
                buckets.append((le, cumulative, exemplar) if exemplar else (le, cumulative))
            family.add_metric([value] if labels else [], buckets, total)
        return family


def _key(metric: Metric) -> str:
    """The short key a job process reports under: the name without prefix and unit."""
    return metric.name.removeprefix(f"{catalogue.PREFIX}_").removesuffix("_seconds")


def _histogram(metric: Metric) -> ExemplarHistogram:
    if len(metric.labels) > 1:
        raise ValueError(f"{metric.name}: an exemplar histogram has at most one label")
    label = metric.labels[0] if metric.labels else None
    values = dict(metric.label_values).get(label, ()) if label is not None else ()
    return ExemplarHistogram(metric.name, metric.help, metric.buckets, label, values)


def voice_stage_key(stage: str) -> str:
    """The key a job process reports a voice stage's latency under."""
    return f"{VOICE_TURN_LATENCY}:{stage}"


class ExemplarHistograms(Collector):
    """The main process's exemplar-carrying histograms, as one prometheus collector.

    Args:
        metrics: the catalogue; its entries with ``exemplars=True`` are created here.
    """

    def __init__(self, metrics: Iterable[Metric] = catalogue.METRICS) -> None:
        self.by_key = {_key(metric): _histogram(metric) for metric in metrics if metric.exemplars}

    def observe(self, key: str, value: float, trace_id: str | None = None) -> None:
        """Observe into the histogram named by ``key`` (``name`` or ``name:label_value``);
        unknown keys and label values are ignored."""
        name, _, label_value = key.partition(":")
        histogram = self.by_key.get(name)
        if histogram is not None and math.isfinite(value) and value >= 0:
            histogram.observe(value, trace_id, label_value)

    def collect(self) -> Iterable[HistogramMetricFamily]:
        """Yield every histogram (prometheus_client collector protocol)."""
        return [h.collect() for h in self.by_key.values()]


def _is_trace_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and value.strip("0123456789abcdef") == ""


class _ReceiverProtocol(asyncio.DatagramProtocol):
    def __init__(self, histograms: ExemplarHistograms) -> None:
        self._histograms = histograms

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            message = json.loads(data)
            key, value, trace_id = message["m"], float(message["v"]), message.get("t")
        except (ValueError, KeyError, TypeError):
            logger.debug("ignoring a malformed observation datagram")
            return
        self._histograms.observe(key, value, trace_id if _is_trace_id(trace_id) else None)


class ObservationReceiver:
    """Main-process side: a Unix datagram socket feeding :class:`ExemplarHistograms`.

    Args:
        path: the socket path (job processes derive the same path from the settings).
        histograms: where observations go.
    """

    def __init__(self, path: Path, histograms: ExemplarHistograms) -> None:
        self.path = path
        self._histograms = histograms
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        """Bind the socket, replacing a stale one left by a killed worker."""
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self.path))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _ReceiverProtocol(self._histograms), sock=sock
        )
        self._transport = transport

    def close(self) -> None:
        """Close and remove the socket."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self.path.unlink(missing_ok=True)


class ObservationReporter:
    """Job-process side: sends observations to the main process, never blocking.

    Args:
        path: the main process's socket path.
    """

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._sock: socket.socket | None = None

    def report(self, key: str, value: float, trace_id: str | None) -> bool:
        """Send one observation; returns False when it could not be delivered."""
        payload = json.dumps({"m": key, "v": value, "t": trace_id}).encode()
        if len(payload) > _MAX_DATAGRAM:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # a Unix datagram queue holds few messages (net.unix.max_dgram_qlen, often
                # 10); when many jobs end at once, wait briefly for room instead of dropping
                self._sock.settimeout(_SEND_TIMEOUT)
            self._sock.sendto(payload, self._path)
        except OSError as error:
            logger.debug("observation not delivered: %s", error)
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
