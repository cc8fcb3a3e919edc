"""The worker's entrypoint: one LiveKit Agents server, one job process per room.

Run it with ``python -m worker dev`` (development) or ``python -m worker start``
(production); ``make agent-dev`` does the former. Importing this module builds nothing and
reads no setting: the command line loads the settings and calls :func:`run` with them.
"""

from __future__ import annotations

import functools
import logging
import time

from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest, cli
from opentelemetry.sdk.trace.export import SpanExporter

from telemetry.metrics import get_metrics
from telemetry.tracing import create_span_exporter

from . import __version__
from .job import JobRuntime, prepare_job_process
from .log_messages import CONNECTED_TO_ROOM, JOB_RECEIVED
from .server import WorkerServer
from .settings import RuntimeSettings
from .voice import VoiceRuntime, load_vad, voice_models

__all__ = ["build_server", "entrypoint", "job_count_load", "on_request", "prewarm", "run"]

logger = logging.getLogger(__name__)


def _forkserver_preload() -> list[str]:
    """What every job process would otherwise import for itself, imported once.

    Job processes are forked from the SDK's forkserver; each imports this module (for prewarm
    and the entrypoint: pydantic, OpenTelemetry, prometheus_client, the span hand-over and
    its OTLP encoder), about 0.2 s of CPU per job (more where no bytecode is cached, as in
    the container image). Imported in the forkserver, they are inherited (see
    bench/README.md). Importing them opens no connection and starts no thread, so forking
    after is safe. With OTLP export the exporter itself lives in the main process only.
    :mod:`worker.preload` builds what the SDK would build in every job (its HTTP session's
    TLS context).
    """
    return [__name__, f"{__package__}.preload"]


def job_count_load(agent_server: AgentServer, *, max_jobs: int) -> float:
    """The worker's load as the share of ``WORKER_MAX_JOBS`` (``max_jobs``) its jobs take.

    The SDK's default load is the CPU use of the whole machine (or container). Where the
    worker shares the machine, that measures its neighbours too, and the LiveKit server stops
    dispatching to a worker whose load nears 1 even in dev mode; counting jobs does not.
    """
    return min(len(agent_server.active_jobs) / max_jobs, 1.0)


def prewarm(proc: JobProcess, settings: RuntimeSettings) -> None:
    """Runs once in each job process before it takes a job: load what jobs share.

    The settings arrive with the function: the server hands the job process this function
    bound to the settings the command line loaded.
    """
    started = time.perf_counter()
    # one line per process at INFO (the one below): every line is formatted twice, here and
    # in the main process, for each job
    logger.debug("Prewarming job process %s", proc.pid)
    prepare_job_process(proc, settings, __version__)
    # the voice pipeline takes its VAD from here instead of making it per session
    proc.userdata["vad"] = load_vad()
    elapsed = time.perf_counter() - started
    get_metrics().prewarm_finished(elapsed)
    logger.info("Job process %s ready in %.2fs", proc.pid, elapsed)


async def on_request(request: JobRequest) -> None:
    """Runs in the main process for each job offered to this worker: accept it."""
    metrics = get_metrics()
    metrics.job_received()
    await request.accept()
    metrics.job_accepted()


async def entrypoint(ctx: JobContext, settings: RuntimeSettings) -> None:
    """Runs in the job's own process, once per room, with the settings bound as for prewarm."""
    runtime = JobRuntime(ctx, settings)
    runtime.start()
    ctx.add_shutdown_callback(runtime.on_shutdown)
    logger.info("%s: %s", JOB_RECEIVED, runtime.room_label)
    try:
        started = time.perf_counter()
        await ctx.connect()
        runtime.connected(time.perf_counter() - started)
    except Exception:
        runtime.entrypoint_failed()
        raise
    logger.info("%s: %s", CONNECTED_TO_ROOM, runtime.room_label)

    if settings.VOICE_PIPELINE == "on":
        # a session that failed for good must not hold the room: end the job, as the SDK
        # ends the session (the worker and the other rooms are untouched)
        voice = VoiceRuntime(ctx, settings, runtime.root, on_failed=ctx.shutdown)
        await voice.start()


def _relay_exporter(settings: RuntimeSettings) -> SpanExporter | None:
    """The main process's exporter of the job processes' spans (OTLP export only)."""
    if settings.OTEL_TRACES_EXPORTER != "otlp":
        return None
    return create_span_exporter(settings.OTEL_TRACES_EXPORTER, settings.traces_protocol)


def build_server(settings: RuntimeSettings) -> WorkerServer:
    """The worker's server, configured by ``settings``, with prewarm and the entrypoint.

    ``prewarm`` and ``entrypoint`` run in job processes; they are registered bound to
    ``settings`` (module functions and the settings pickle), so job processes receive the
    settings with them instead of reading the environment again.
    """
    max_jobs = settings.WORKER_MAX_JOBS
    server = WorkerServer(
        ws_url=settings.LIVEKIT_URL,
        api_key=settings.LIVEKIT_API_KEY,
        api_secret=settings.LIVEKIT_API_SECRET.get_secret_value(),
        num_idle_processes=settings.WORKER_NUM_IDLE_PROCESSES,
        drain_timeout=settings.WORKER_DRAIN_TIMEOUT,
        # a fixed health port in dev mode too: the SDK would pick a random one
        host=settings.BIND_HOST,
        port=settings.HEALTH_PORT,
        # loading the VAD model takes seconds on a busy machine; the SDK's default is 10 s
        initialize_process_timeout=30.0,
        log_level=settings.sdk_log_level,
        load_fnc=functools.partial(job_count_load, max_jobs=max_jobs) if max_jobs else None,
        metrics_host=settings.BIND_HOST,
        metrics_port=settings.METRICS_PORT,
        metrics_dir=settings.metrics_dir,
        version=__version__,
        preload_modules=_forkserver_preload(),
        voice_models=voice_models(settings) if settings.VOICE_PIPELINE == "on" else None,
        span_exporter=functools.partial(_relay_exporter, settings),
        span_queue_size=settings.SPAN_RELAY_QUEUE_SIZE,
        setup_fnc=functools.partial(prewarm, settings=settings),
    )
    server.rtc_session(
        functools.partial(entrypoint, settings=settings),
        agent_name=settings.AGENT_NAME,
        on_request=on_request,
    )
    return server


def run(settings: RuntimeSettings) -> None:
    """Start the SDK's command line (``dev``, ``start``, …) on a server built from ``settings``."""
    cli.run_app(build_server(settings))
