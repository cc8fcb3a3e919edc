"""Instrumentation of the worker: OpenTelemetry traces and Prometheus metrics.

This package knows LiveKit and OpenTelemetry, never the worker: everything it needs
(settings values, registries, providers) is a parameter.

Names are imported on first use, so ``telemetry.bootstrap`` can run before anything imports
prometheus_client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .children import install_child_count
    from .exemplars import ExemplarHistograms, ObservationReceiver, ObservationReporter
    from .exposition import MetricsEndpoint
    from .metrics import WorkerMetrics, get_metrics
    from .room import RoomObserver
    from .tracing import Tracing, build_resource, create_span_exporter, setup_tracing

_EXPORTS = {
    "install_child_count": "children",
    "ExemplarHistograms": "exemplars",
    "ObservationReceiver": "exemplars",
    "ObservationReporter": "exemplars",
    "MetricsEndpoint": "exposition",
    "WorkerMetrics": "metrics",
    "get_metrics": "metrics",
    "RoomObserver": "room",
    "Tracing": "tracing",
    "build_resource": "tracing",
    "create_span_exporter": "tracing",
    "setup_tracing": "tracing",
}

__all__ = [
    "ExemplarHistograms",
    "MetricsEndpoint",
    "ObservationReceiver",
    "ObservationReporter",
    "RoomObserver",
    "Tracing",
    "WorkerMetrics",
    "build_resource",
    "create_span_exporter",
    "get_metrics",
    "install_child_count",
    "setup_tracing",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
