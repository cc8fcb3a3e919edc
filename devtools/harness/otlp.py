"""OTLP/JSON trace lines, as the Collector's file exporter writes them, as flat span dicts."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Span", "parse_otlp_json_spans"]

Span = dict[str, Any]

_STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "stringValue": str,
    "boolValue": bool,
    # OTLP/JSON encodes int64 as a decimal string.
    "intValue": int,
    "doubleValue": float,
    "bytesValue": base64.b64decode,
}


def _any_value(value: Mapping[str, Any]) -> Any:
    # An OTLP/JSON AnyValue carries exactly one typed field.
    for field, convert in _SCALARS.items():
        if field in value:
            return convert(value[field])
    if "arrayValue" in value:
        return [_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None


def _attributes(items: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _any_value(item.get("value", {})) for item in items or []}


def parse_otlp_json_spans(text: str) -> list[Span]:
    """Flattens OTLP/JSON trace lines (as written by the Collector's file exporter).

    Args:
        text: Newline-delimited OTLP/JSON ``TracesData`` documents. A trailing partial line
            (a write in progress) is ignored.

    Returns:
        One dict per span with ``name``, ``trace_id``, ``span_id``, ``parent_span_id`` (hex,
        "" for roots), ``kind`` (int), ``status_code`` ("UNSET", "OK" or "ERROR"),
        ``status_message``, ``start_time_unix_nano``/``end_time_unix_nano`` (int),
        ``attributes`` and ``resource`` (flat dicts of Python values), ``events`` (list of
        ``{"name", "attributes"}``) and ``scope`` (instrumentation scope name).
    """
    spans: list[Span] = []
    lines = text.split("\n")
    for line in lines[:-1]:  # the last element is "" or an incomplete line
        if not line.strip():
            continue
        doc = json.loads(line)
        for resource_spans in doc.get("resourceSpans", []):
            resource = _attributes(resource_spans.get("resource", {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans", []):
                scope = scope_spans.get("scope", {}).get("name", "")
                for span in scope_spans.get("spans", []):
                    status = span.get("status", {})
                    spans.append(
                        {
                            "name": span.get("name", ""),
                            "trace_id": span.get("traceId", ""),
                            "span_id": span.get("spanId", ""),
                            "parent_span_id": span.get("parentSpanId", ""),
                            "kind": int(span.get("kind", 0)),
                            "status_code": _STATUS_CODES.get(int(status.get("code", 0)), "UNSET"),
                            "status_message": status.get("message", ""),
                            "start_time_unix_nano": int(span.get("startTimeUnixNano", 0)),
                            "end_time_unix_nano": int(span.get("endTimeUnixNano", 0)),
                            "attributes": _attributes(span.get("attributes")),
                            "events": [
                                {
                                    "name": event.get("name", ""),
                                    "attributes": _attributes(event.get("attributes")),
                                }
                                for event in span.get("events", [])
                            ],
                            "resource": resource,
                            "scope": scope,
                        }
                    )
    return spans
