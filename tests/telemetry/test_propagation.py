"""Continuing the dispatcher's trace from a traceparent in the dispatch metadata."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider

from telemetry.propagation import DispatchIdGenerator, link_to_dispatch, parent_from_metadata

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    "metadata",
    [
        TRACEPARENT,
        f'{{"traceparent": "{TRACEPARENT}", "user": "x"}}',
        f'{{"traceparent": "{TRACEPARENT}", "tracestate": "vendor=1"}}',
    ],
)
def test_parent_is_read_from_metadata(metadata: str) -> None:
    parent = parent_from_metadata(metadata)
    assert parent is not None
    assert parent.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert parent.span_id == 0xB7AD6B7169203331
    assert parent.is_remote


@pytest.mark.parametrize(
    "metadata",
    [None, "", "hello", "{not json", '{"traceparent": 5}', "[1, 2]", "00-0000-bad-01"],
)
def test_anything_else_is_ignored(metadata: str | None) -> None:
    assert parent_from_metadata(metadata) is None


def test_root_spans_of_a_traced_dispatch_share_its_trace_id() -> None:
    metadata: list[str | None] = [TRACEPARENT]
    provider = TracerProvider(id_generator=DispatchIdGenerator(lambda: metadata[0]))
    tracer = provider.get_tracer("t")
    root = tracer.start_span("job_entrypoint")
    assert root.get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert root.get_span_context().span_id != 0xB7AD6B7169203331
    metadata[0] = None
    other = tracer.start_span("job_entrypoint")
    assert other.get_span_context().trace_id != 0x0AF7651916CD43DD8448EB211C80319C


def test_link_to_dispatch() -> None:
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("job_entrypoint")
    assert link_to_dispatch(span, TRACEPARENT)
    assert not link_to_dispatch(span, "no trace here")
    span.end()
    (link,) = span.links  # type: ignore[attr-defined]
    assert link.context.span_id == 0xB7AD6B7169203331
    assert dict(link.attributes) == {"lk.dispatch.traceparent": TRACEPARENT}
