"""Instrumentation of the worker: OpenTelemetry traces and Prometheus metrics.

This package knows LiveKit and OpenTelemetry, never the worker: everything it needs
(settings values, registries, providers) is a parameter. Importing the package imports none
of its modules, so ``telemetry.bootstrap`` can run before anything imports prometheus_client;
import the module that holds a name (``from telemetry.metrics import get_metrics``).
"""

__all__ = [
    "attributes",
    "bootstrap",
    "children",
    "exemplars",
    "exporters",
    "exposition",
    "labels",
    "logcontext",
    "loop_lag",
    "metrics",
    "multiproc",
    "propagation",
    "room",
    "seams",
    "tracing",
]
