"""PromQL fragments the dashboards share: a metric scoped to the selected workers, quantiles."""

from __future__ import annotations

from telemetry.catalogue import Metric

__all__ = ["WORKERS", "quantile", "rate", "scoped"]

WORKERS = 'instance=~"$instance"'
"""The selector that scopes a query to the workers picked in the ``instance`` variable."""


def scoped(series: str, extra: str = "") -> str:
    """``series`` restricted to the selected instances (plus ``extra`` matchers)."""
    matchers = f"{WORKERS}, {extra}" if extra else WORKERS
    return f"{series}{{{matchers}}}"


def rate(metric: Metric | str, window: str = "$__rate_interval", fn: str = "rate") -> str:
    """``fn`` (``rate``) of a series over ``window``, scoped unless already a selector."""
    series = metric.exposed if isinstance(metric, Metric) else metric
    selector = series if series.endswith("}") else scoped(series)
    return f"{fn}({selector}[{window}])"


def quantile(q: str, metric: Metric | str, by: str = "") -> str:
    """The ``q`` quantile of a histogram over the selected workers, grouped by ``by``."""
    bucket = metric.bucket if isinstance(metric, Metric) else f"{metric}_bucket"
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) ({rate(bucket)}))"
