"""The main process: the SDK's ``AgentServer`` plus the worker's metrics endpoint.

What the SDK does in this process: it registers with the LiveKit server over a websocket
(retrying with backoff), answers job requests, keeps a pool of prewarmed job processes and
starts one per job, serves health on ``/`` and ``/worker``, and on SIGTERM/SIGINT stops
taking jobs, waits for running jobs (``drain``, production mode only) and closes the pool.

What this class adds: the ``/metrics`` endpoint on its own port (see
``telemetry.exposition``), the socket on which job processes report exemplar observations,
the socket on which job processes hand over their finished spans and the relay that
exports them over one long-lived OTLP session (``telemetry.relay``), the registration state
as metrics, a health answer that is unhealthy whenever the worker is
not registered with LiveKit (the SDK's only turns so after every retry failed), the
count of job processes that died with a job, a cheaper count behind the SDK's
child-process gauge (``telemetry.children``), and the shutdown of all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit.agents.version import __version__ as sdk_version
from opentelemetry.sdk.trace.export import SpanExporter

from telemetry.catalogue import METRICS, VOICE_TURN_LATENCY
from telemetry.children import ChildCount, install_child_count
from telemetry.exemplars import ExemplarHistograms, ObservationReceiver
from telemetry.exposition import MetricsEndpoint
from telemetry.handoff import SPANS_SOCKET
from telemetry.labels import PARTICIPANT_KINDS
from telemetry.loop_lag import monitor_loop_lag
from telemetry.metrics import VoiceModels, WorkerMetrics, get_metrics
from telemetry.relay import SpanReceiver, SpanRelay
from telemetry.seams.lk_agents import RegistrationAwareServer
from telemetry.span_ledger import SpanLedger

from .log_messages import JOB_PROCESS_EXITED, REGISTERED_AGAIN

__all__ = ["OBSERVATIONS_SOCKET", "WorkerServer"]

logger = logging.getLogger(__name__)

OBSERVATIONS_SOCKET = "observations.sock"
_COMPACT_INTERVAL = 10.0
# after the job processes are gone: how long the relay may read and export what they left
_SPAN_DRAIN_SECONDS = 2.0
_SPAN_FLUSH_SECONDS = 5.0


class WorkerServer(RegistrationAwareServer):
    """An ``AgentServer`` that also serves the worker's metrics.

    Args:
        metrics_host: bind host of the metrics endpoint.
        metrics_port: port of the metrics endpoint.
        metrics_dir: prometheus_client's multiprocess directory (None: single process).
        version: the project's version, for ``build_info``.
        metrics: the process's metrics (created on first use by default).
        voice_models: the voice pipeline's provider and model labels; None when it is off
            (no voice series are exposed then).
        span_exporter: creates the OTLP exporter of the job processes' spans when the
            worker starts (None: job processes export nothing through this process).
        span_queue_size: most spans the relay holds for export.
        **kwargs: passed to ``AgentServer``.
    """

    def __init__(
        self,
        *,
        metrics_host: str,
        metrics_port: int,
        metrics_dir: Path | None,
        version: str,
        metrics: Callable[[], WorkerMetrics] = get_metrics,
        voice_models: VoiceModels | None = None,
        span_exporter: Callable[[], SpanExporter | None] | None = None,
        span_queue_size: int = 8192,
        **kwargs: Any,
    ) -> None:
        self._registrations = 0
        super().__init__(
            prometheus_multiproc_dir=str(metrics_dir) if metrics_dir else None, **kwargs
        )
        self._metrics_host = metrics_host
        self._metrics_port = metrics_port
        self._metrics_dir = metrics_dir
        self._version = version
        self._get_metrics = metrics
        self._voice_models = voice_models
        self.histograms = ExemplarHistograms(
            m for m in METRICS if voice_models is not None or m is not VOICE_TURN_LATENCY
        )
        self.metrics_endpoint: MetricsEndpoint | None = None
        self._receiver: ObservationReceiver | None = None
        self._child_count = ChildCount()
        self._span_exporter = span_exporter
        self._span_queue_size = span_queue_size
        self.span_relay: SpanRelay | None = None
        self._span_receiver: SpanReceiver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.on("worker_started", self._on_started)
        self.on("worker_registered", self._on_registered)

    def registration_lost(self) -> None:
        """Log and count the lost registration; the SDK reconnects."""
        logger.warning("Lost the connection to the LiveKit server, reconnecting")
        self._get_metrics().registration_changed(False)

    def _on_started(self) -> None:
        # the SDK empties the multiprocess directory just before this event, so this is the
        # first moment the main process may create metric files
        metrics = self._get_metrics()
        metrics.build_info(
            version=self._version, sdk_version=sdk_version, agent_name=self.agent_name
        )
        metrics.registration_changed(False)
        metrics.initialize_series(PARTICIPANT_KINDS)
        if self._voice_models is not None:
            metrics.initialize_voice_series(self._voice_models)
        if self._metrics_dir is not None and not install_child_count(self._child_count.tick):
            logger.debug("the SDK's child-process count is its own: its updater changed")
        self._tasks.append(asyncio.create_task(self._start_endpoint(), name="metrics_endpoint"))

    def _on_registered(self, worker_id: str, server_info: Any) -> None:
        self._registrations += 1
        metrics = self._get_metrics()
        metrics.registration_changed(True)
        if self._registrations > 1:
            metrics.reconnected()
            logger.info("%s (worker %s)", REGISTERED_AGAIN, worker_id)

    async def _start_span_relay(self, metrics_dir: Path) -> None:
        exporter = self._span_exporter() if self._span_exporter is not None else None
        if exporter is None:
            return
        relay = SpanRelay(
            exporter, SpanLedger(self._get_metrics()), max_queue_spans=self._span_queue_size
        )
        relay.start()
        self.span_relay = relay
        self._span_receiver = SpanReceiver(metrics_dir / SPANS_SOCKET, relay)
        await self._span_receiver.start()

    async def _close_span_relay(self) -> None:
        # the SDK closed the process pool: the job processes handed over their last spans
        # and exited; read what is left, then export it within a bound
        if self._span_receiver is not None:
            await self._span_receiver.aclose(_SPAN_DRAIN_SECONDS)
            self._span_receiver = None
        if self.span_relay is not None:
            await asyncio.to_thread(self.span_relay.shutdown_within, _SPAN_FLUSH_SECONDS)
            self.span_relay = None

    async def _start_endpoint(self) -> None:
        if self._metrics_dir is not None:
            # first: a job process may hand over spans as soon as it has a job
            await self._start_span_relay(self._metrics_dir)
        endpoint = MetricsEndpoint(
            self._metrics_host,
            self._metrics_port,
            extra_collectors=(self.histograms,),
            multiproc_dir=self._metrics_dir,
        )
        await endpoint.start()
        self.metrics_endpoint = endpoint
        logger.info("Metrics served on http://%s:%s/metrics", self._metrics_host, endpoint.port)
        if self._metrics_dir is not None:
            self._receiver = ObservationReceiver(
                self._metrics_dir / OBSERVATIONS_SOCKET, self.histograms
            )
            await self._receiver.start()
            self._tasks.append(asyncio.create_task(self._compact_periodically(endpoint)))
        self._tasks.append(
            asyncio.create_task(monitor_loop_lag(lambda s: self._get_metrics().loop_lag("main", s)))
        )
        self.on_process_closed(self._on_process_closed)
        self.on_process_closed(self._child_count.changed)
        self.on_process_started(self._child_count.changed)

    async def _compact_periodically(self, endpoint: MetricsEndpoint) -> None:
        assert endpoint.compactor is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_COMPACT_INTERVAL)
            await loop.run_in_executor(None, endpoint.compactor.compact)

    def _on_process_closed(self, proc: Any) -> None:
        # a job process that exits with a job still assigned and a non-zero code was killed
        # or crashed; one the SDK itself killed on shutdown was asked to stop
        if proc.running_job is not None and proc.exitcode not in (0, None) and not proc.killed:
            logger.error(JOB_PROCESS_EXITED, proc.pid, proc.exitcode)
            self._get_metrics().job_failed("process_exited")

    async def aclose(self) -> None:
        """Close the SDK's worker, then the project's endpoint, socket and tasks."""
        await super().aclose()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._close_span_relay()
        if self._receiver is not None:
            self._receiver.close()
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.aclose()
