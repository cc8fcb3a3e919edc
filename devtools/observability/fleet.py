"""The "LiveKit Agent Worker - Fleet" dashboard and the fleet alerts: many workers at once.

A fleet's questions are not one worker's: is every worker registered, how much room is left
before LiveKit has nowhere to send a job, does every worker get its share of the rooms, do
dispatches fail. Load here is the SDK's ``lk_agents_worker_load`` (with ``WORKER_MAX_JOBS``,
the share of that many jobs a worker runs); at ``LOAD_THRESHOLD`` a worker in production mode
reports itself full and LiveKit stops sending it jobs, so the headroom is measured to it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b

from telemetry import catalogue as c

from . import variables
from .panels import PanelBuilder, dashboard, prom_target, stat_panel, timeseries_panel
from .queries import scoped
from .rules import AlertRule, render_alert_group

__all__ = ["FLEET_ALERTS", "LOAD_THRESHOLD", "UID", "build", "render_fleet_alerts"]

UID = "lk-worker-fleet"
LOAD_THRESHOLD = 0.7
"""The SDK's ``load_threshold`` in production mode: a worker at this load takes no job."""

_W = 'job="agent-worker"'
# child processes of the SDK that never run a job: multiprocessing's forkserver and resource
# tracker (livekit-agents 1.8.9, multiprocess mode)
_SDK_HELPERS = 2


def _load_by_worker(selector: str) -> str:
    return f"max by (instance) ({c.SDK_WORKER_LOAD.exposed}{{{selector}}})"


def _headroom(selector: str) -> str:
    """Share of the fleet's capacity (to the threshold) still free, 0-1."""
    load = _load_by_worker(selector)
    return f"sum(clamp_min({LOAD_THRESHOLD} - {load}, 0))\n" f"/ ({LOAD_THRESHOLD} * count({load}))"


def _dispatch_failures(selector: str, window: str, by: str) -> str:
    """Jobs offered but not accepted, plus jobs whose entrypoint (room connect) failed."""
    received = f"sum{by} (increase({c.JOBS_RECEIVED.exposed}{{{selector}}}[{window}]))"
    accepted = f"sum{by} (increase({c.JOBS_ACCEPTED.exposed}{{{selector}}}[{window}]))"
    failed = (
        f"sum{by} (increase({c.JOBS_FAILED.exposed}{{{selector}, "
        f'reason="entrypoint_error"}}[{window}]))'
    )
    # the labelled failure counter has no series before its first failure: 0 instead
    return f"clamp_min({received} - {accepted}, 0)\n+ ({failed} or {received} * 0)"


_CHILDREN = f"sum by (instance) ({scoped(c.SDK_CHILD_PROCESSES.exposed)})"


def _jobs() -> str:
    # the jobs gauge has no sample before a worker's first job: count none then
    return f"(sum by (instance) ({scoped(c.SDK_ACTIVE_JOBS.exposed)}) or {_CHILDREN} * 0)"


def _idle() -> str:
    return f"clamp_min({_CHILDREN} - {_SDK_HELPERS} - {_jobs()}, 0)"


def _stats() -> list[PanelBuilder]:
    workers = scoped(c.REGISTERED.exposed)
    return [
        stat_panel(
            "Workers registered",
            f"Selected workers registered with LiveKit now ({c.REGISTERED.name}).",
            (0, 0, 6, 4),
            prom_target(f"sum({workers})"),
            steps=((None, "red"), (1, "green")),
            sparkline=False,
        ),
        stat_panel(
            "Workers not registered",
            "Selected workers that are scraped but not registered with LiveKit: they take no "
            "job (see the AgentFleetWorkerNotRegistered alert).",
            (6, 0, 6, 4),
            prom_target(f"count({workers} == 0) or vector(0)"),
            steps=((None, "green"), (1, "red")),
            sparkline=False,
            decimals=0,
        ),
        stat_panel(
            "Capacity headroom",
            f"Share of the fleet's capacity left before every worker reaches load "
            f"{LOAD_THRESHOLD} and reports itself full (the AgentFleetAtCapacity alert fires "
            "below 10%).",
            (12, 0, 6, 4),
            prom_target(_headroom('instance=~"$instance"')),
            unit="percentunit",
            steps=((None, "red"), (0.1, "orange"), (0.3, "green")),
            decimals=0,
        ),
        stat_panel(
            "Dispatch failures (range)",
            "Jobs offered to the selected workers and not accepted, plus jobs whose entrypoint "
            "failed (could not join the room), over the time range.",
            (18, 0, 6, 4),
            prom_target(_dispatch_failures('instance=~"$instance"', "$__range", "")),
            steps=((None, "green"), (1, "red")),
            sparkline=False,
            decimals=0,
        ),
    ]


def _per_worker() -> list[PanelBuilder]:
    selector = 'instance=~"$instance"'
    jobs = _jobs()
    accepted = f"sum by (instance) (rate({scoped(c.JOBS_ACCEPTED.exposed)}[$__rate_interval]))"
    spread = (
        f"sum by (instance) (increase({scoped(c.JOBS_ACCEPTED.exposed)}[$__range]))\n"
        f"/ scalar(sum(increase({scoped(c.JOBS_ACCEPTED.exposed)}[$__range])))"
    )
    return [
        timeseries_panel(
            "Jobs per worker",
            f"Running jobs (rooms) on each worker ({c.SDK_ACTIVE_JOBS.name}).",
            (0, 4, 12, 8),
            "none",
            [prom_target(jobs, "{{instance}}")],
        ),
        timeseries_panel(
            "Load per worker",
            f"Each worker's load ({c.SDK_WORKER_LOAD.name}); at the dashed line "
            f"({LOAD_THRESHOLD}) it reports itself full and LiveKit sends it no job.",
            (12, 4, 12, 8),
            "percentunit",
            [prom_target(_load_by_worker(selector), "{{instance}}")],
            max_value=1,
            threshold=LOAD_THRESHOLD,
        ),
        timeseries_panel(
            "Idle processes per worker",
            "Prewarmed job processes waiting for a job (WORKER_NUM_IDLE_PROCESSES when the "
            f"pool is full): {c.SDK_CHILD_PROCESSES.name} minus the running jobs and the SDK's "
            f"{_SDK_HELPERS} helper processes (multiprocessing's forkserver and resource "
            "tracker). At 0 every new job waits for a process to start.",
            (0, 12, 12, 8),
            "none",
            [prom_target(_idle(), "{{instance}}")],
        ),
        timeseries_panel(
            "Capacity headroom",
            "Fleet capacity left before every worker is full, over time.",
            (12, 12, 12, 8),
            "percentunit",
            [prom_target(_headroom(selector), "headroom")],
            max_value=1,
        ),
        timeseries_panel(
            "Dispatch rate per worker",
            f"Jobs accepted per second by each worker ({c.JOBS_ACCEPTED.exposed}).",
            (0, 20, 12, 8),
            "reqps",
            [prom_target(accepted, "{{instance}}")],
            stacked=True,
        ),
        stat_panel(
            "Dispatch spread (range)",
            "Each worker's share of the jobs the selected workers accepted over the time range. "
            "Equal workers on equally loaded nodes get similar shares; LiveKit prefers the node "
            "whose workers have the most load to spare, then a worker by spare load.",
            (12, 20, 12, 8),
            prom_target(spread, "{{instance}}"),
            unit="percentunit",
            decimals=0,
            sparkline=False,
        ),
    ]


def build() -> dash_b.Dashboard:
    """The Fleet dashboard."""
    return dashboard(
        UID,
        "LiveKit Agent Worker - Fleet",
        "Many workers on a LiveKit cluster: registration, jobs, load and idle processes "
        "per worker, capacity headroom, dispatch spread and failures.",
        [*_stats(), *_per_worker()],
        variables.for_workers(),
    )


FLEET_ALERTS = (
    AlertRule(
        "AgentFleetWorkerNotRegistered",
        f"{c.REGISTERED.exposed}{{{_W}}} == 0",
        "2m",
        "warning",
        "Worker {{ $labels.instance }} is running but not registered with LiveKit",
        "{{ $labels.instance }} is scraped but has not been registered with LiveKit for 2 "
        "minutes, so it takes no job and the fleet is smaller than it looks. Check: (1) the "
        "worker's log for registration errors and its health endpoint (503 while not "
        "registered); (2) the livekit-server node in its LIVEKIT_URL (up, reachable, same API "
        f"key); (3) {c.RECONNECTS.exposed} rising means the connection keeps dropping.",
    ),
    AlertRule(
        "AgentFleetAtCapacity",
        f"{_headroom(_W)}\n< 0.1",
        "5m",
        "critical",
        "The agent fleet has {{ $value | humanizePercentage }} of its capacity left",
        f"Nearly every worker is at load {LOAD_THRESHOLD}, where it reports itself full; "
        "LiveKit finds no worker for the next rooms and they get no agent. Check: (1) "
        "autoscaling (KEDA ScaledObject, maxReplicas, pending pods); (2) whether jobs end "
        f"(stuck jobs keep {c.SDK_ACTIVE_JOBS.exposed} up); (3) WORKER_MAX_JOBS against the "
        "CPU and memory each job really takes.",
    ),
    AlertRule(
        "AgentFleetDispatchFailures",
        f"(\n  {_dispatch_failures(_W, '5m', '')}\n)\n"
        f"/ (sum(increase({c.JOBS_RECEIVED.exposed}{{{_W}}}[5m])) > 0)\n> 0.05",
        "5m",
        "warning",
        "{{ $value | humanizePercentage }} of the fleet's dispatches fail",
        "More than 5% of the jobs offered to the fleet over 5 minutes were not accepted or "
        "could not join their room. Check: (1) the failing jobs' traces (root span "
        "job_entrypoint with error status, found by room name in Tempo whichever worker ran "
        "it); (2) the workers' logs around the job request; (3) the livekit-server nodes and "
        "Redis: a job whose room is on an unreachable node cannot join it.",
    ),
)


def render_fleet_alerts() -> str:
    """``deploy/prometheus/rules/fleet.yml``."""
    return render_alert_group(
        "agent-worker.fleet",
        "Fleet alerts for livekit-agent-worker; each description is a short runbook. "
        "Tested by tests/fleet_test.yml.",
        FLEET_ALERTS,
    )
