"""The one module that touches private names of the OTLP span exporters.

The main process exports spans that job processes already encoded as OTLP protobuf
(``telemetry.relay``). The exporters' public ``export`` takes ``ReadableSpan`` objects and
encodes them itself; sending bytes that are already encoded takes the step below it, which
keeps everything the exporters read from the ``OTEL_EXPORTER_OTLP_*`` variables (endpoint,
headers, timeout, compression, certificates) and their retries with backoff. Each private
name below carries why it is used and the version it was verified on; ``REQUIREMENTS`` lists
them for ``check()`` and ``tests/telemetry/seams/``.
"""

from __future__ import annotations

import inspect
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import Requirement, problems

__all__ = ["REQUIREMENTS", "check", "export_encoded"]


def export_encoded(exporter: SpanExporter, payload: bytes) -> bool:
    """Send one serialized ``ExportTraceServiceRequest`` through an OTLP span exporter.

    Args:
        exporter: an ``OTLPSpanExporter``, http/protobuf or gRPC.
        payload: the request's bytes (several serialized requests concatenated are one
            request holding all their spans: protobuf merges repeated fields).

    Returns:
        Whether the collector accepted it.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    if isinstance(exporter, HttpExporter):
        # the exporter's HTTP client posts bytes, with retries, compression and headers;
        # export() only encodes spans before calling it; verified on 1.45.2
        return bool(exporter._client.export(payload).success)
    return _export_grpc(exporter, payload)


def _export_grpc(exporter: Any, payload: bytes) -> bool:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(payload)
    # the gRPC exporter's _export(data) retries and calls _translate_data(data) for the
    # request, and _count_data(data) for its own metrics; an instance attribute stands in
    # for both for this call (the relay's one export thread is their only caller);
    # verified on 1.45.2
    exporter._translate_data = lambda _data: request
    exporter._count_data = lambda _data: sum(
        len(scope.spans) for spans in request.resource_spans for scope in spans.scope_spans
    )
    try:
        return exporter._export(payload) is SpanExportResult.SUCCESS
    finally:
        del exporter._translate_data
        del exporter._count_data


def _http_client_holds() -> bool:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces")
    try:
        export = exporter._client.export
        return list(inspect.signature(export).parameters) == ["data"]
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


def _grpc_export_holds() -> bool:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9", insecure=True)
    try:
        return all(
            callable(getattr(exporter, name, None))
            for name in ("_export", "_translate_data", "_count_data")
        ) and list(inspect.signature(exporter._export).parameters) == ["data"]
    finally:
        exporter.shutdown()


REQUIREMENTS = (
    Requirement(
        "OTLPSpanExporter._client (http/protobuf)",
        "an HTTP client whose export(data) posts serialized bytes and returns .success",
        _http_client_holds,
    ),
    Requirement(
        "OTLPSpanExporter._export, _translate_data, _count_data (gRPC)",
        "_export(data) sends the request _translate_data(data) returns",
        _grpc_export_holds,
    ),
)


def check() -> list[str]:
    """One line per private name of the OTLP exporters that is gone or changed (empty: none)."""
    return problems(
        "opentelemetry-exporter-otlp-proto-http", "telemetry/seams/otlp_exporter.py", REQUIREMENTS
    )
