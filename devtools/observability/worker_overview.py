"""The "LiveKit Agent Worker - Overview" dashboard: is the fleet of workers healthy?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import gauge, heatmap, table
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as heatmap_m

from telemetry import catalogue as c

from . import variables
from .panels import (
    PROMETHEUS,
    PanelBuilder,
    dashboard,
    prom_target,
    stat_panel,
    thresholds,
    timeseries_panel,
)
from .queries import quantile, rate, scoped
from .rules import JOB_FAILURE_RATIO

__all__ = ["UID", "build"]

UID = "lk-worker-overview"


def _stats() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Registered workers",
            f"Workers currently registered with the LiveKit server ({c.REGISTERED.name}). 0 "
            "means no new room gets an agent: see the AgentWorkerNoneRegistered alert.",
            (0, 0, 4, 4),
            prom_target(f"sum({scoped(c.REGISTERED.exposed)})"),
            steps=((None, "red"), (1, "green")),
            sparkline=False,
        ),
        stat_panel(
            "Active jobs",
            "Jobs (rooms) running right now across the selected workers (SDK gauge "
            f"{c.SDK_ACTIVE_JOBS.name}).",
            (4, 0, 4, 4),
            prom_target(f"sum({scoped(c.SDK_ACTIVE_JOBS.exposed)})"),
        ),
        _load_gauge(),
        stat_panel(
            "Process pool",
            "Child processes of the selected workers: idle prewarmed processes plus one per "
            f"running job ({c.SDK_CHILD_PROCESSES.name}).",
            (12, 0, 4, 4),
            prom_target(f"sum({scoped(c.SDK_CHILD_PROCESSES.exposed)})"),
        ),
        stat_panel(
            "Job failure ratio (5m)",
            "Failed jobs / received jobs over the last 5 minutes, all reasons, on the worst of "
            f"the selected workers ({JOB_FAILURE_RATIO.record}, the series the "
            "AgentWorkerJobFailureRatioHigh alert reads: it fires above 10%). Empty while no "
            "job arrives.",
            (16, 0, 4, 4),
            prom_target(f"max({scoped(JOB_FAILURE_RATIO.record)})"),
            unit="percentunit",
            steps=((None, "green"), (0.05, "orange"), (0.1, "red")),
            decimals=1,
        ),
        stat_panel(
            "Reconnects (range)",
            "Re-registrations after losing the LiveKit connection during the selected time "
            f"range ({c.RECONNECTS.exposed}). Anything above 0 deserves a look at the network "
            "path to LiveKit.",
            (20, 0, 4, 4),
            prom_target(f"sum({rate(c.RECONNECTS, '$__range', 'increase')})"),
            steps=((None, "green"), (1, "orange")),
            sparkline=False,
            decimals=0,
        ),
    ]


def _load_gauge() -> gauge.Panel:
    return (
        gauge.Panel()
        .title("Worker load (max)")
        .description(
            f"Highest worker load ({c.SDK_WORKER_LOAD.name}, 0..1). At the default "
            "load_threshold 0.7 a worker reports itself full and LiveKit stops dispatching to "
            "it; the AgentWorkerLoadNearLimit alert fires above 0.6."
        )
        .grid_pos(dm.GridPos(h=4, w=4, x=8, y=0))
        .datasource(PROMETHEUS)
        .unit("percentunit")
        .min(0)
        .max(1)
        .color_scheme(dash_b.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds((None, "green"), (0.6, "orange"), (0.7, "red")))
        .reduce_options(
            common_b.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
        .show_threshold_labels(False)
        .show_threshold_markers(True)
        .orientation(cm.VizOrientation.AUTO)
        .with_target(prom_target(f"max({scoped(c.SDK_WORKER_LOAD.exposed)})").ref_id("A"))
    )


def _workers_table() -> table.Panel:
    build_info = scoped(c.BUILD_INFO.exposed, 'agent_name=~"$agent_name"')
    return (
        table.Panel()
        .title("Workers")
        .description(
            "One row per worker: agent name, worker version and livekit-agents SDK version "
            f"({c.BUILD_INFO.name}), and whether it is registered right now."
        )
        .grid_pos(dm.GridPos(h=5, w=24, x=0, y=4))
        .datasource(PROMETHEUS)
        .unit("none")
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)
        .show_header(True)
        .cell_height(cm.TableCellHeight.SM)
        .with_target(prom_target(build_info, table=True).ref_id("A"))
        .with_target(prom_target(scoped(c.REGISTERED.exposed), table=True).ref_id("B"))
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "__name__": True, "Value #A": True},
                    "renameByName": {"Value #B": "registered", "sdk_version": "livekit-agents"},
                    "indexByName": {},
                },
            )
        )
    )


def _jobs() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Jobs",
            "Job requests received and accepted, and jobs failed (all reasons), per second.",
            (0, 9, 8, 8),
            "suffix: jobs/s",
            [
                prom_target(f"sum({rate(c.JOBS_RECEIVED)})", "received"),
                prom_target(f"sum({rate(c.JOBS_ACCEPTED)})", "accepted"),
                prom_target(f"sum({rate(c.JOBS_FAILED)})", "failed"),
            ],
        ),
        timeseries_panel(
            "Job failures by reason",
            "Failed jobs per second by reason: entrypoint_error (exception in agent code), "
            "handler_error (failure while accepting), process_exited (job process crashed or "
            "was killed).",
            (8, 9, 8, 8),
            "suffix: jobs/s",
            [prom_target(f"sum by (reason) ({rate(c.JOBS_FAILED)})", "{{reason}}")],
            stacked=True,
        ),
        timeseries_panel(
            "Job duration",
            f"How long jobs (rooms) last, p50 and p95 of {c.JOB_DURATION.name}. Points are "
            "exemplars: click one to open that job's trace in Tempo.",
            (16, 9, 8, 8),
            "s",
            [
                prom_target(quantile("0.95", c.JOB_DURATION), "p95", exemplar=True),
                prom_target(quantile("0.50", c.JOB_DURATION), "p50"),
            ],
        ),
    ]


def _dispatch() -> list[PanelBuilder]:
    latency = c.DISPATCH_LATENCY
    return [
        timeseries_panel(
            "Dispatch latency (request to room connected)",
            f"p50/p95/p99 of {latency.name}: from the job request reaching the worker to the "
            "room being connected. Exemplar points carry trace_id: click a slow one to open "
            "that job's trace in Tempo. Dashed line: the 2s AgentWorkerDispatchLatencyHigh "
            "threshold.",
            (0, 17, 12, 9),
            "s",
            [
                prom_target(quantile("0.99", latency), "p99", exemplar=True),
                prom_target(quantile("0.95", latency), "p95"),
                prom_target(quantile("0.50", latency), "p50"),
            ],
            threshold=2,
        ),
        _dispatch_heatmap(),
    ]


def _dispatch_heatmap() -> heatmap.Panel:
    latency = c.DISPATCH_LATENCY
    return (
        heatmap.Panel()
        .title("Dispatch latency distribution")
        .description(
            f"Dispatches per latency bucket over time ({latency.name}). A band drifting "
            "upwards means the process pool or LiveKit is slowing down; exemplars link to "
            "traces."
        )
        .grid_pos(dm.GridPos(h=9, w=12, x=12, y=17))
        .datasource(PROMETHEUS)
        .unit("s")
        .hide_from(common_b.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .scale_distribution(common_b.ScaleDistributionConfig().type(cm.ScaleDistribution.LINEAR))
        .calculate(False)
        .cell_gap(1)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_m.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .fill("dark-orange")
            .scale(heatmap_m.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)
            .reverse(False)
        )
        .exemplars_color("rgba(255,0,255,0.7)")
        .filter_values(heatmap.FilterValueRange().le(1e-09))
        .show_legend()
        .rows_frame(heatmap.RowsHeatmapOptions().layout(cm.HeatmapCellLayout.AUTO))
        .mode(cm.TooltipDisplayMode.SINGLE)
        .show_y_histogram()
        .show_color_scale(False)
        .y_axis(
            heatmap.YAxisConfig().axis_placement(cm.AxisPlacement.LEFT).reverse(False).unit("s")
        )
        .with_target(
            prom_target(
                f"sum by (le) ({rate(latency.bucket, fn='increase')})",
                "{{le}}",
                exemplar=True,
                heatmap=True,
            ).ref_id("A")
        )
    )


def _processes() -> list[PanelBuilder]:
    load = timeseries_panel(
        "Load and process pool",
        "Worker load per worker (left, 0..1) with the 0.7 default load_threshold, and child "
        "processes per worker.",
        (16, 26, 8, 8),
        "percentunit",
        [
            prom_target(
                f"max by (instance) ({scoped(c.SDK_WORKER_LOAD.exposed)})", "load {{instance}}"
            ),
            prom_target(
                f"sum by (instance) ({scoped(c.SDK_CHILD_PROCESSES.exposed)})",
                "processes {{instance}}",
            ),
        ],
        threshold=0.7,
    ).override_by_query(
        "B",
        [
            dm.DynamicConfigValue(id_val="unit", value="none"),
            dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
            dm.DynamicConfigValue(id_val="custom.axisLabel", value="processes"),
        ],
    )
    return [
        timeseries_panel(
            "Room connect duration",
            f"p50/p95 of {c.ROOM_CONNECT_DURATION.name}: the job's connect to the LiveKit room "
            "(signalling + WebRTC). A rise here with flat prewarm times points at the LiveKit "
            "server or network.",
            (0, 26, 8, 8),
            "s",
            [
                prom_target(quantile("0.95", c.ROOM_CONNECT_DURATION), "p95"),
                prom_target(quantile("0.50", c.ROOM_CONNECT_DURATION), "p50"),
            ],
        ),
        timeseries_panel(
            "Prewarm and process start",
            f"p95 of the project's prewarm function ({c.PREWARM_DURATION.name}) and of the "
            f"SDK's whole process initialisation ({c.SDK_PROC_INITIALIZE.name}). Slow prewarm "
            "with an empty pool shows up as dispatch latency.",
            (8, 26, 8, 8),
            "s",
            [
                prom_target(quantile("0.95", c.PREWARM_DURATION), "prewarm p95"),
                prom_target(quantile("0.95", c.SDK_PROC_INITIALIZE), "process init p95"),
            ],
        ),
        load,
    ]


def _rooms() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Active participants by kind",
            "Remote participants in the rooms the agents serve, by participant kind (standard, "
            "sip, ingress, egress, agent, connector, bridge, unknown).",
            (0, 34, 8, 8),
            "none",
            [prom_target(f"sum by (kind) ({scoped(c.ACTIVE_PARTICIPANTS.exposed)})", "{{kind}}")],
            stacked=True,
        ),
        timeseries_panel(
            "Participants joined / left",
            "Participants joining (positive) and leaving (negative, by kind and disconnect "
            "reason) per second.",
            (8, 34, 8, 8),
            "suffix: participants/s",
            [
                prom_target(f"sum by (kind) ({rate(c.PARTICIPANTS_JOINED)})", "joined {{kind}}"),
                prom_target(
                    f"-sum by (kind, reason) ({rate(c.PARTICIPANTS_LEFT)})",
                    "left {{kind}} ({{reason}})",
                ),
            ],
            min_value=None,
        ),
        timeseries_panel(
            "Tracks published / unpublished",
            "Tracks published (positive) and unpublished (negative) by remote participants, per "
            "second, by source (microphone, camera, screen_share, ...) and kind.",
            (16, 34, 8, 8),
            "suffix: tracks/s",
            [
                prom_target(
                    f"sum by (source, kind) ({rate(c.TRACKS_PUBLISHED)})",
                    "published {{source}}/{{kind}}",
                ),
                prom_target(
                    f"-sum by (source, kind) ({rate(c.TRACKS_UNPUBLISHED)})",
                    "unpublished {{source}}/{{kind}}",
                ),
            ],
            min_value=None,
        ),
        timeseries_panel(
            "Room disconnections by reason",
            "Times the job's room connection ended, by LiveKit disconnect reason "
            f"({c.ROOM_DISCONNECTIONS.exposed}), per second.",
            (0, 42, 8, 8),
            "suffix: disconnects/s",
            [prom_target(f"sum by (reason) ({rate(c.ROOM_DISCONNECTIONS)})", "{{reason}}")],
            stacked=True,
        ),
        timeseries_panel(
            "Event-loop lag p99",
            f"p99 of {c.EVENT_LOOP_LAG.name} for the main worker process and the job processes. "
            "Sustained lag above ~100ms delays audio and turn handling: look for blocking calls "
            "in agent code.",
            (8, 42, 8, 8),
            "s",
            [prom_target(quantile("0.99", c.EVENT_LOOP_LAG, by="process"), "{{process}}")],
            threshold=0.1,
        ),
        timeseries_panel(
            "Telemetry export errors",
            "Failed OTLP span exports and spans dropped before export, per second. Non-zero "
            "means traces (and exemplar links) are incomplete: check the Collector.",
            (16, 42, 8, 8),
            "suffix: /s",
            [
                prom_target(f"sum({rate(c.SPAN_EXPORT_FAILURES)})", "export failures"),
                prom_target(f"sum({rate(c.SPANS_DROPPED)})", "spans dropped"),
            ],
        ),
    ]


def build() -> dash_b.Dashboard:
    """The Overview dashboard."""
    panels = [*_stats(), _workers_table(), *_jobs(), *_dispatch(), *_processes(), *_rooms()]
    return dashboard(
        UID,
        "LiveKit Agent Worker - Overview",
        "Fleet view of the agent workers: registration, jobs, dispatch latency (with trace "
        "exemplars), participants and tracks, process pool, event-loop lag, telemetry "
        "health.",
        panels,
        variables.for_workers(),
    )
