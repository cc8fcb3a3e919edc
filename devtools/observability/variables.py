"""The template variables the dashboards share: datasource, agent name, instance, text boxes."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models import dashboard as dm

from telemetry.catalogue import BUILD_INFO

from .panels import PROMETHEUS

__all__ = ["agent_name", "datasource", "for_workers", "instance", "textbox"]


def datasource() -> dash_b.DatasourceVariable:
    """``$datasource``: the Prometheus datasource every metric panel queries."""
    return (
        dash_b.DatasourceVariable("datasource")
        .label("Prometheus")
        .description("Prometheus datasource the metric panels query (provisioned uid: prometheus).")
        .type("prometheus")
        .current(dm.VariableOption(selected=False, text="Prometheus", value="prometheus"))
        .hide(dm.VariableHide.DONT_HIDE)
        .multi(False)
        .include_all(False)
        .regex("")
    )


def _query(name: str, label: str, description: str, query: str) -> dash_b.QueryVariable:
    return (
        dash_b.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .regex("")
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .hide(dm.VariableHide.DONT_HIDE)
    )


def agent_name() -> dash_b.QueryVariable:
    """``$agent_name``: the agents the workers register as (build info label)."""
    return _query(
        "agent_name",
        "Agent name",
        f"agent_name label of {BUILD_INFO.name}: the agent the worker registers as.",
        f"label_values({BUILD_INFO.name}, agent_name)",
    )


def instance(series: str, label: str, description: str) -> dash_b.QueryVariable:
    """``$instance``: the scrape targets that expose ``series``."""
    return _query("instance", label, description, f"label_values({series}, instance)")


def textbox(name: str, label: str, description: str) -> dash_b.TextBoxVariable:
    """A free-text variable, empty by default."""
    return (
        dash_b.TextBoxVariable(name)
        .label(label)
        .description(description)
        .current(dm.VariableOption(selected=False, text="", value=""))
        .hide(dm.VariableHide.DONT_HIDE)
    )


def for_workers() -> list[dash_b.DatasourceVariable | dash_b.QueryVariable]:
    """The variables of a dashboard over the workers: datasource, agent name, worker."""
    return [
        datasource(),
        agent_name(),
        instance(
            f'{BUILD_INFO.name}{{agent_name=~"$agent_name"}}',
            "Worker",
            "Worker scrape targets (host:port) running the selected agents.",
        ),
    ]
