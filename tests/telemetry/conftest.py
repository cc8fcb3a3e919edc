"""Fixtures for telemetry tests: an in-memory span pipeline, a fresh registry, fake rtc objects."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import rtc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from telemetry.metrics import WorkerMetrics


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> WorkerMetrics:
    return WorkerMetrics(registry)


def participant(
    sid: str = "PA_1",
    identity: str = "alice",
    *,
    name: str = "Alice",
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    reason: int = rtc.DisconnectReason.CLIENT_INITIATED,
) -> Any:
    """A stand-in for ``rtc.RemoteParticipant`` with the attributes the code reads."""
    return SimpleNamespace(
        sid=sid,
        identity=identity,
        name=name,
        kind=kind,
        disconnect_reason=reason,
        track_publications={},
    )


def publication(
    sid: str = "TR_1",
    source: int = rtc.TrackSource.SOURCE_MICROPHONE,
    kind: int = rtc.TrackKind.KIND_AUDIO,
    mime_type: str = "audio/opus",
) -> Any:
    """A stand-in for ``rtc.RemoteTrackPublication``."""
    return SimpleNamespace(sid=sid, source=source, kind=kind, mime_type=mime_type)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
