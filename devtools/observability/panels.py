"""Small builders over grafana-foundation-sdk so that a dashboard panel is a few lines.

Every Prometheus query goes through the ``$datasource`` variable and every Tempo query to
the provisioned ``tempo`` uid; units, legends and tooltips get the project's defaults here,
once. Grid positions are given per panel as ``(x, y, w, h)``; ids are assigned in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus, stat, tempo, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as prom_m
from grafana_foundation_sdk.models import tempo as tempo_m

__all__ = [
    "PROMETHEUS",
    "TEMPO",
    "Grid",
    "PanelBuilder",
    "dashboard",
    "prom_target",
    "render",
    "stat_panel",
    "tempo_target",
    "thresholds",
    "timeseries_panel",
]

Grid = tuple[int, int, int, int]
PanelBuilder = cogbuilder.Builder[dm.Panel]

PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TEMPO = dm.DataSourceRef(type_val="tempo", uid="tempo")
_REF_IDS = "ABCDEFGHIJ"
_TAG = "livekit-agent-worker"


def thresholds(*steps: tuple[float | None, str]) -> dash_b.ThresholdsConfig:
    """Absolute thresholds from ``(value, color)`` steps; the first value is ``None``."""
    return (
        dash_b.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


_GREEN = ((None, "green"),)


def prom_target(
    expr: str,
    legend: str = "__auto",
    *,
    exemplar: bool = False,
    table: bool = False,
    heatmap: bool = False,
) -> prometheus.Dataquery:
    """A Prometheus query through ``$datasource``: a range query unless ``table``."""
    query = (
        prometheus.Dataquery()
        .datasource(PROMETHEUS)
        .editor_mode(prom_m.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format("" if table else legend)
    )
    query = query.instant() if table else query.range()
    if table:
        return query.format(prom_m.PromQueryFormat.TABLE)
    query = query.format(
        prom_m.PromQueryFormat.HEATMAP if heatmap else prom_m.PromQueryFormat.TIME_SERIES
    )
    return query.exemplar(True) if exemplar else query


def tempo_target(
    query: str, *, limit: int = 20, table_type: str | None = "spans"
) -> tempo.TempoQuery:
    """A TraceQL query to the provisioned Tempo datasource."""
    target = tempo.TempoQuery().datasource(TEMPO).query_type("traceql").query(query).limit(limit)
    if table_type is not None:
        target = target.spss(20).table_type(tempo_m.SearchTableType(table_type))
    return target


def _place(panel: Any, title: str, description: str, grid: Grid) -> None:
    x, y, w, h = grid
    panel.title(title).description(description).grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))


def _with_targets(panel: Any, targets: Sequence[Any]) -> None:
    for ref_id, target in zip(_REF_IDS, targets, strict=False):
        panel.with_target(target.ref_id(ref_id))


def timeseries_panel(
    title: str,
    description: str,
    grid: Grid,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    min_value: float | None = 0,
    max_value: float | None = None,
    stacked: bool = False,
    threshold: float | None = None,
) -> timeseries.Panel:
    """A line graph of Prometheus queries; ``threshold`` draws a dashed red line."""
    panel = (
        timeseries.Panel()
        .datasource(PROMETHEUS)
        .unit(unit)
        .color_scheme(dash_b.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(cm.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(40 if stacked else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            common_b.StackingConfig()
            .mode(cm.StackingMode.NORMAL if stacked else cm.StackingMode.NONE)
            .group("A")
        )
        .axis_soft_min(0)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_b.VizTooltipOptions()
            .mode(cm.TooltipDisplayMode.MULTI)
            .sort(cm.SortOrder.DESCENDING)
        )
    )
    if threshold is None:
        panel.thresholds(thresholds(*_GREEN))
    else:
        panel.thresholds(thresholds(*_GREEN, (threshold, "red"))).thresholds_style(
            common_b.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
        )
    if min_value is not None:
        panel.min(min_value)
    if max_value is not None:
        panel.max(max_value)
    _place(panel, title, description, grid)
    _with_targets(panel, targets)
    return panel


def stat_panel(
    title: str,
    description: str,
    grid: Grid,
    target: prometheus.Dataquery,
    *,
    unit: str = "none",
    steps: Sequence[tuple[float | None, str]] = _GREEN,
    sparkline: bool = True,
    decimals: int | None = None,
) -> stat.Panel:
    """A single number (the last value) of one Prometheus query, coloured by ``steps``."""
    panel = (
        stat.Panel()
        .datasource(PROMETHEUS)
        .unit(unit)
        .color_scheme(dash_b.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds(*steps))
        .reduce_options(
            common_b.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.AREA if sparkline else cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .text_mode(cm.BigValueTextMode.AUTO)
        .wide_layout(True)
        .show_percent_change(False)
    )
    if decimals is not None:
        panel.decimals(decimals)
    _place(panel, title, description, grid)
    _with_targets(panel, [target])
    return panel


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: Sequence[PanelBuilder],
    template_variables: Sequence[cogbuilder.Builder[dm.VariableModel]] = (),
) -> dash_b.Dashboard:
    """A dashboard with the project's common settings; panel ids follow ``panels``' order,
    the template variables ``template_variables``' order."""
    board = (
        dash_b.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([_TAG, "livekit"])
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .version(1)
        .annotation(
            dash_b.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .built_in(1)
            .type("dashboard")
        )
        .link(
            dash_b.DashboardLink("LiveKit dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([_TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
            .icon("external link")
            .target_blank(False)
        )
    )
    for panel_id, panel in enumerate(panels, start=1):
        panel_with_id: Any = panel
        board.with_panel(panel_with_id.id(panel_id))
    for variable in template_variables:
        board.with_variable(variable)
    return board


def render(board: dash_b.Dashboard) -> str:
    """The dashboard JSON exactly as committed under ``dashboards/``."""
    return json.dumps(board.build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"
