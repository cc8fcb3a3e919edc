"""Fixtures of the real-server tier: a livekit-server, a Collector, the worker as a subprocess."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.demo_voice import FakePorts
from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess
from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch

AGENT_NAME = "e2e-agent"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    with LiveKitServer(tmp_path_factory.mktemp("livekit")) as server:
        yield server


@pytest.fixture(scope="module")
def access(livekit: LiveKitServer) -> ServerAccess:
    return ServerAccess(livekit.url, livekit.api_key, livekit.api_secret)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OtelCollector]:
    with OtelCollector(tmp_path_factory.mktemp("collector")) as running:
        yield running


def traced_worker(
    livekit: LiveKitServer, collector: OtelCollector, work: Path, **env: str
) -> WorkerProcess:
    """The worker, registered as ``AGENT_NAME`` on ``livekit``, exporting its spans to
    ``collector``; ``env``: more of its variables."""
    return WorkerProcess.serving(
        livekit,
        work,
        env={
            "AGENT_NAME": AGENT_NAME,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
            **env,
        },
    )


def voice_worker(
    livekit: LiveKitServer, collector: OtelCollector, work: Path, ports: FakePorts, **env: str
) -> WorkerProcess:
    """A :func:`traced_worker` with the voice pipeline on the provider fakes at ``ports``,
    logging JSON, without PII."""
    return traced_worker(
        livekit,
        collector,
        work,
        **ports.worker_env(),
        ALLOW_PII="false",
        LOG_FORMAT="json",
        **env,
    )


def room_name(prefix: str = "room") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def session(
    access: ServerAccess,
    room: str,
    participants: list[SyntheticParticipant],
    *,
    metadata: str = "",
    publish_seconds: float = 1.5,
    agent_name: str = AGENT_NAME,
    wait_for_agent: float | None = 45.0,
) -> None:
    """Dispatch the agent to ``room``; the participants join, wait for the agent, publish
    and leave."""
    await create_dispatch(access, room, agent_name, metadata)
    await asyncio.wait_for(
        asyncio.gather(
            *(p.run(publish_seconds, wait_for_agent=wait_for_agent) for p in participants)
        ),
        timeout=90,
    )


def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "worker"
