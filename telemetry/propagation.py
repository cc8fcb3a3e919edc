"""Continue the dispatcher's trace in the job's trace.

The Platform API creates an agent dispatch; when it puts a W3C ``traceparent`` in the
dispatch metadata (a bare traceparent string, or a JSON object with a ``traceparent`` key),
the job's spans join that trace, so the API request and the agent's job show up as one
trace.

The SDK creates the job's root span (``job_entrypoint``) before the project's entrypoint
runs, so the project cannot give it a parent. It can give it the trace id: the job
process's :class:`DispatchIdGenerator` returns the dispatcher's trace id for the root spans
of a job whose dispatch carried one, and the entrypoint then adds a link from the root to
the dispatcher's span (:func:`link_to_dispatch`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .attributes import ATTR_DISPATCH_PARENT

__all__ = ["DispatchIdGenerator", "link_to_dispatch", "parent_from_metadata"]

_propagator = TraceContextTextMapPropagator()


def parent_from_metadata(metadata: str | None) -> trace.SpanContext | None:
    """The remote span context in a dispatch's metadata, or None.

    Args:
        metadata: the dispatch metadata: a ``traceparent`` value, or a JSON object
            with ``traceparent`` (and optionally ``tracestate``) keys.
    """
    if not metadata:
        return None
    carrier: dict[str, str] = {}
    text = metadata.strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return None
        if not isinstance(decoded, dict):
            return None
        carrier = {k: v for k, v in decoded.items() if k in ("traceparent", "tracestate")}
        if not all(isinstance(v, str) for v in carrier.values()):
            return None
    else:
        carrier = {"traceparent": text}
    context = trace.get_current_span(_propagator.extract(carrier)).get_span_context()
    return context if context.is_valid else None


def _current_job_metadata() -> str | None:
    from livekit.agents import get_job_context

    ctx = get_job_context(required=False)
    return ctx.job.metadata if ctx is not None else None


class DispatchIdGenerator(RandomIdGenerator):
    """Gives a job's root spans the trace id of the request that dispatched it.

    Args:
        metadata: returns the current job's dispatch metadata, or None outside a job.
    """

    def __init__(self, metadata: Callable[[], str | None] = _current_job_metadata) -> None:
        self._metadata = metadata

    def generate_trace_id(self) -> int:
        """The dispatcher's trace id inside a job it traced, else a random one."""
        parent = parent_from_metadata(self._metadata())
        return parent.trace_id if parent is not None else super().generate_trace_id()


def link_to_dispatch(span: trace.Span, metadata: str | None) -> bool:
    """Link ``span`` to the dispatcher's span named in ``metadata``.

    Returns:
        Whether the metadata carried a trace context.
    """
    parent = parent_from_metadata(metadata)
    if parent is None:
        return False
    span.add_link(parent, {ATTR_DISPATCH_PARENT: _format(parent)})
    return True


def _format(ctx: trace.SpanContext) -> str:
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
