"""The telemetry log lines operators, tests and the benchmark look for, written once.

Each constant is the fixed start of a line; the log call completes it with lazy arguments.
"""

from __future__ import annotations

__all__ = ["SPAN_EXPORT_FAILING", "SPAN_EXPORT_RECOVERED"]

# "<SPAN_EXPORT_FAILING> (<n> failed batch(es) ...); is the OTLP endpoint reachable?"
SPAN_EXPORT_FAILING = "span export failing"
SPAN_EXPORT_RECOVERED = "span export recovered"
