"""The OTLP exporter seam: encoded requests go out through both exporters, as they are."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.seams import otlp_exporter

Request = trace_service_pb2.ExportTraceServiceRequest


def _payload(names: list[str]) -> bytes:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for name in names:
        provider.get_tracer("t").start_span(name).end()
    return encode_spans(memory.get_finished_spans()).SerializeToString()


def _names(request: Any) -> list[str]:
    return [span.name for r in request.resource_spans for s in r.scope_spans for span in s.spans]


def test_the_installed_exporters_have_every_private_name_the_seam_uses() -> None:
    assert otlp_exporter.check() == []


def test_a_changed_http_client_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    original = HttpExporter.__init__

    def no_client(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        del self._client

    monkeypatch.setattr(HttpExporter, "__init__", no_client)
    [line] = otlp_exporter.check()
    assert line.startswith("opentelemetry-exporter-otlp-proto-http ")
    assert "OTLPSpanExporter._client (http/protobuf) is gone or changed" in line


@pytest.fixture
def http_collector() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(Request.FromString(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", received
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_concatenated_requests_reach_an_http_collector_as_one(
    http_collector: tuple[str, list[Any]],
) -> None:
    url, received = http_collector
    exporter = HttpExporter(endpoint=url, timeout=5)
    try:
        assert otlp_exporter.export_encoded(exporter, _payload(["a", "b"]) + _payload(["c"]))
    finally:
        exporter.shutdown()
    (request,) = received
    assert sorted(_names(request)) == ["a", "b", "c"]


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.received: list[Any] = []

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        self.received.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_an_encoded_request_reaches_a_grpc_collector() -> None:
    traces = _Traces()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(traces, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    exporter = GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=5)
    try:
        assert otlp_exporter.export_encoded(exporter, _payload(["x"]) + _payload(["y", "z"]))
        # the exporter is left as it was: it still encodes ReadableSpans itself
        assert "_translate_data" not in vars(exporter)
    finally:
        exporter.shutdown()
        server.stop(None)
    (request,) = traces.received
    assert sorted(_names(request)) == ["x", "y", "z"]
