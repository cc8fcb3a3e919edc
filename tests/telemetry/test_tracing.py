"""The per-process provider: resource, OTEL_* variables, exporters, PII switch, limits."""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents.telemetry import set_tracer_provider
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from devtools.harness.fakes import fake_participant
from telemetry.metrics import WorkerMetrics
from telemetry.room import RoomObserver
from telemetry.tracing import Tracing, build_resource, create_span_exporter, setup_tracing


def test_resource_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    attributes = build_resource(service_version="1.2.3", environment="staging").attributes
    assert attributes["service.name"] == "livekit-agent-worker"
    assert attributes["service.version"] == "1.2.3"
    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["service.instance.id"]
    assert attributes["host.name"]
    assert isinstance(attributes["process.pid"], int)


def test_resource_follows_the_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "voice-agent")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=voice,k8s.pod.name=w-0")
    attributes = build_resource(service_version="1", environment="dev").attributes
    assert attributes["service.name"] == "voice-agent"
    assert attributes["service.namespace"] == "voice"
    assert attributes["k8s.pod.name"] == "w-0"


def test_exporter_selection() -> None:
    assert create_span_exporter("none", "grpc") is None
    assert isinstance(create_span_exporter("console", "grpc"), ConsoleSpanExporter)
    assert isinstance(create_span_exporter("otlp", "grpc"), GrpcExporter)
    assert isinstance(create_span_exporter("otlp", "http/protobuf"), HttpExporter)


def test_endpoint_comes_from_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:14318")
    exporter = create_span_exporter("otlp", "http/protobuf")
    assert isinstance(exporter, HttpExporter)
    assert exporter._endpoint == "http://127.0.0.1:14318/v1/traces"


def _local_tracing(**overrides: Any) -> Tracing:
    # no exporter, not installed globally: the test reads the provider it gets back
    return setup_tracing(
        resource=build_resource(service_version="1", environment="t"),
        exporter=None,
        span_counts=WorkerMetrics(CollectorRegistry()),
        allow_pii=True,
        install=False,
        **overrides,
    )


def test_sampler_follows_otel_traces_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    tracing = _local_tracing()
    span = tracing.provider.get_tracer("t").start_span("x")
    assert not span.get_span_context().trace_flags.sampled


def test_attribute_values_are_truncated_to_the_limit() -> None:
    exporter = InMemorySpanExporter()
    tracing = _local_tracing(attribute_length_limit=64)
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = tracing.provider.get_tracer("t").start_span("x", attributes={"lk.k": "a" * 1_000_000})
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes == {"lk.k": "a" * 64}


@pytest.mark.parametrize("allow_pii", [True, False])
def test_pii_switch_reaches_the_exporter(allow_pii: bool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_tracer_provider(provider, allow_pii=allow_pii)
    tracer = provider.get_tracer("t")
    root = tracer.start_span(
        "job_entrypoint",
        attributes={"lk.room_sid": "RM_1", "lk.pii.room_name": "Dr. Smith's consultation"},
    )
    observer = RoomObserver(root, tracer, WorkerMetrics(CollectorRegistry()))
    observer.participant_connected(fake_participant(identity="+15551234567", name="Jane Doe"))
    observer.close()
    root.end()
    exported = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    assert exported["job_entrypoint"]["lk.room_sid"] == "RM_1"
    assert exported["participant"]["lk.participant_id"] == "PA_1"
    text = repr(exported)
    for secret in ("Dr. Smith", "+15551234567", "Jane Doe"):
        assert (secret in text) is allow_pii
