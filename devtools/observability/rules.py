"""Prometheus recording and alerting rules, built from catalogue names and rendered as YAML.

A recording rule exists only when a dashboard or an alert reads it; the job-failure ratio is
defined once, here, and both the Overview's stat panel and the alert read that series.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from telemetry import catalogue as c

__all__ = [
    "ALERTS",
    "DISPATCH_P95",
    "E2E_OBJECTIVE_SECONDS",
    "E2E_SLO_TARGET",
    "VOICE_ERRORS_PER_TURN",
    "VOICE_SLO_ERRORS",
    "JOB_FAILURE_RATIO",
    "RECORDING_RULES",
    "AlertRule",
    "RecordingRule",
    "render_alert_group",
    "render_alerts",
    "render_recording",
]

_WIDTH = 100


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule: ``record`` named ``level:metric:operation``."""

    record: str
    expr: str
    comment: str


@dataclass(frozen=True)
class AlertRule:
    """An alerting rule; ``description`` is a short runbook ("Check: (1) ...")."""

    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str


DISPATCH_P95 = RecordingRule(
    f"instance:{c.DISPATCH_LATENCY.name}:p95_5m",
    "histogram_quantile(0.95,\n"
    f"  sum by (job, instance, le) (rate({c.DISPATCH_LATENCY.bucket}[5m])))",
    "Dispatch latency (job request received -> room connected) p95 per worker.",
)

JOB_FAILURE_RATIO = RecordingRule(
    f"instance:{c.PREFIX}_job_failure_ratio:rate5m",
    "(\n"
    f"  sum by (job, instance) (rate({c.JOBS_FAILED.exposed}[5m]))\n"
    "  or\n"
    f"  sum by (job, instance) (rate({c.JOBS_RECEIVED.exposed}[5m])) * 0\n"
    ")\n"
    "/\n"
    f"(sum by (job, instance) (rate({c.JOBS_RECEIVED.exposed}[5m])) > 0)",
    "Share of received jobs that failed (any reason). 0 when jobs arrive but none failed "
    "(the labelled failure counter has no series until its first failure); no sample at all "
    "while no job arrives, so an idle worker never looks 0% or 100% broken.",
)

E2E_OBJECTIVE_SECONDS = 1.5
"""A turn is good when the agent starts speaking within this long of the user stopping
(a bucket bound of the turn latency histogram)."""
E2E_SLO_TARGET = 0.95
"""The share of turns that must be good; 1 - this is the error budget."""
assert E2E_OBJECTIVE_SECONDS in c.VOICE_TURN_LATENCY.buckets

_E2E_BUCKET = f'{c.VOICE_TURN_LATENCY.bucket}{{stage="end_to_end", le="{E2E_OBJECTIVE_SECONDS}"}}'
_E2E_COUNT = f'{c.VOICE_TURN_LATENCY.name}_count{{stage="end_to_end"}}'


def _slo_errors(window: str) -> RecordingRule:
    return RecordingRule(
        f"instance:{c.PREFIX}_voice_turn_slo_errors:ratio_rate{window}",
        "1 - (\n"
        f"  sum by (job, instance) (rate({_E2E_BUCKET}[{window}]))\n"
        "  /\n"
        f"  (sum by (job, instance) (rate({_E2E_COUNT}[{window}])) > 0)\n"
        ")",
        f"Share of turns over the last {window} whose end-to-end latency exceeded "
        f"{E2E_OBJECTIVE_SECONDS:g}s (the SLO's bad events); no sample while no turn ends.",
    )


VOICE_SLO_ERRORS = {window: _slo_errors(window) for window in ("5m", "30m", "1h", "6h")}

VOICE_ERRORS_PER_TURN = RecordingRule(
    f"instance:{c.PREFIX}_voice_provider_errors_per_turn:rate5m",
    f"sum by (job, instance, provider) (rate({c.VOICE_PROVIDER_ERRORS.exposed}[5m]))\n"
    "/ on (job, instance) group_left ()\n"
    f"(sum by (job, instance) (rate({c.VOICE_TURNS.exposed}[5m])) > 0)",
    "Failed provider requests per agent turn, by provider (the plugins retry, so one bad "
    "turn can count several); no sample while no turn ends.",
)

RECORDING_RULES = (
    DISPATCH_P95,
    JOB_FAILURE_RATIO,
    *VOICE_SLO_ERRORS.values(),
    VOICE_ERRORS_PER_TURN,
)

_BUDGET = 1 - E2E_SLO_TARGET


def _burn(long: str, short: str, factor: float) -> str:
    threshold = f"{factor * _BUDGET:.3g}"
    return (
        f"{VOICE_SLO_ERRORS[long].record} > {threshold}\n"
        f"and\n{VOICE_SLO_ERRORS[short].record} > {threshold}"
    )


_SLO_RUNBOOK = (
    f"More than the error budget of the end-to-end latency SLO ({E2E_SLO_TARGET:.0%} of turns "
    f"under {E2E_OBJECTIVE_SECONDS:g}s) is being spent. Check: (1) the Voice pipeline "
    "dashboard's latency by stage - which stage grew (llm_ttft, tts_ttfb: the provider; "
    "end_of_turn: endpointing settings; transcription: STT); (2) follow an exemplar of a slow "
    "turn to its trace and read the agent_turn span; (3) provider errors and retries "
    f"({c.VOICE_PROVIDER_ERRORS.exposed}) and the workers' event-loop lag."
)

_VOICE_ALERTS = (
    AlertRule(
        "AgentWorkerVoiceLatencySLOBurnFast",
        _burn("1h", "5m", 14.4),
        "2m",
        "critical",
        "Voice turns on {{ $labels.instance }} burn the latency error budget 14x too fast",
        f"{_SLO_RUNBOOK} At this rate a 30-day budget is gone in about two days.",
    ),
    AlertRule(
        "AgentWorkerVoiceLatencySLOBurnSlow",
        _burn("6h", "30m", 6),
        "15m",
        "warning",
        "Voice turns on {{ $labels.instance }} burn the latency error budget 6x too fast",
        f"{_SLO_RUNBOOK} At this rate a 30-day budget is gone in about five days.",
    ),
    AlertRule(
        "AgentWorkerVoiceProviderErrors",
        f"{VOICE_ERRORS_PER_TURN.record} > 0.1",
        "10m",
        "warning",
        "Voice provider {{ $labels.provider }} fails often on {{ $labels.instance }}",
        "The voice pipeline's provider {{ $labels.provider }} failed more than once per ten "
        f"turns for 10 minutes. Check: (1) {c.VOICE_PROVIDER_ERRORS.exposed} by kind - auth: "
        "the API key (DEEPGRAM_API_KEY, OPENAI_API_KEY, CARTESIA_API_KEY); rate_limit: quota; "
        "server_error, timeout, dropped: the provider's status page; (2) the ERROR spans "
        "(llm_request, tts_request) in the affected rooms' traces; (3) the worker's log lines "
        "'Voice provider ... failed', which name the room.",
    ),
    AlertRule(
        "AgentWorkerVoiceImpossibleLatency",
        f"sum by (job, instance, stage, reason) "
        f"(increase({c.VOICE_INVALID_LATENCY.exposed}[5m])) > 0",
        "0m",
        "warning",
        "Impossible {{ $labels.stage }} latency ({{ $labels.reason }}) on {{ $labels.instance }}",
        "The SDK reported a {{ $labels.stage }} latency that is negative or longer than 60s; "
        "it was counted, not plotted. This is a measurement bug (the SDK has had such), not a "
        "slow turn. Check: (1) the livekit-agents version and its changelog; (2) the room's "
        "agent_turn spans around the alert time; (3) report it upstream with the trace.",
    ),
)

ALERTS = (
    AlertRule(
        "AgentWorkerNoneRegistered",
        f"(sum({c.REGISTERED.exposed}) or vector(0)) < 1",
        "2m",
        "critical",
        "No agent worker is registered with LiveKit",
        "No worker has been registered with the LiveKit server for 2 minutes, so new rooms get "
        'no agent. Check: (1) up{job="agent-worker"} - is any worker process running and '
        "scraped; (2) the worker logs for registration errors (wrong LIVEKIT_URL, API key or "
        "secret); (3) the LiveKit server itself (livekit-server target, its / health check). "
        f"{c.RECONNECTS.exposed} rising means the connection keeps dropping.",
    ),
    AlertRule(
        "AgentWorkerDown",
        'up{job="agent-worker"} == 0',
        "1m",
        "critical",
        "Agent worker {{ $labels.instance }} cannot be scraped",
        "Prometheus has failed to scrape {{ $labels.instance }} for 1 minute. Check: (1) the "
        "process or container is running (docker compose ps, or the host shell running make "
        "agent-dev); (2) its health endpoint on :8081 answers; (3) METRICS_PORT is 9464 and "
        "BIND_HOST lets Prometheus in (0.0.0.0 in containers and for host.docker.internal). "
        "Jobs in flight on a crashed worker are lost; LiveKit re-dispatches new rooms elsewhere.",
    ),
    AlertRule(
        "AgentWorkerJobFailureRatioHigh",
        f"{JOB_FAILURE_RATIO.record} > 0.1",
        "10m",
        "warning",
        "{{ $value | humanizePercentage }} of jobs fail on {{ $labels.instance }}",
        "More than 10% of the jobs received by {{ $labels.instance }} failed over the last 10 "
        f"minutes. Check: (1) {c.JOBS_FAILED.exposed} by reason - entrypoint_error is an "
        "exception in the agent code, handler_error a failure while accepting the job, "
        "process_exited a crashed or OOM-killed job process; (2) the failing traces in Tempo "
        "(root span job_entrypoint with error status); (3) the model providers' keys, quotas "
        "and status.",
    ),
    AlertRule(
        "AgentWorkerDispatchLatencyHigh",
        f"{DISPATCH_P95.record} > 2",
        "10m",
        "warning",
        "Dispatch latency p95 on {{ $labels.instance }} is {{ $value | humanizeDuration }}",
        "95% of jobs on {{ $labels.instance }} take more than 2s from job request to room "
        "connected, so users wait for the agent to join. Check: (1) worker load and the idle "
        f"process pool ({c.SDK_WORKER_LOAD.exposed}, {c.SDK_CHILD_PROCESSES.exposed}) - a cold "
        f"pool forces a process start per job; (2) {c.PREWARM_DURATION.exposed}; (3) "
        f"{c.ROOM_CONNECT_DURATION.exposed} and the LiveKit server. Follow an exemplar on the "
        "Worker overview latency panel to a slow job's trace.",
    ),
    AlertRule(
        "AgentWorkerLoadNearLimit",
        f"max by (job, instance) ({c.SDK_WORKER_LOAD.exposed}) > 0.6",
        "5m",
        "warning",
        "Worker {{ $labels.instance }} load is {{ $value | humanizePercentage }}",
        "Worker load on {{ $labels.instance }} has stayed above 60% for 5 minutes. At the "
        "default load_threshold of 0.7 the worker reports itself full and LiveKit stops "
        "dispatching jobs to it. Check: (1) active jobs and CPU per job; (2) whether to add "
        "workers or raise load_threshold; (3) runaway job processes "
        f"({c.SDK_CHILD_PROCESSES.exposed}, {c.EVENT_LOOP_LAG.exposed}).",
    ),
    AlertRule(
        "AgentWorkerSpanExportFailing",
        f"sum by (job, instance) (rate({c.SPAN_EXPORT_FAILURES.exposed}[5m])) > 0",
        "10m",
        "warning",
        "Worker {{ $labels.instance }} fails to export spans",
        "{{ $labels.instance }} has failed to export spans to the OTLP endpoint for 10 minutes, "
        "so traces (and exemplar links to them) are missing. Check: (1) "
        'OTEL_EXPORTER_OTLP_ENDPOINT and that the Collector is up (up{job="otel-collector"}, '
        "its :13133 health check); (2) the Collector's exporter errors towards Tempo; (3) "
        f"{c.SPANS_DROPPED.exposed} for spans lost to full queues.",
    ),
    *_VOICE_ALERTS,
)

_GENERATED = (
    "# Generated by `python -m devtools.observability` from devtools/observability/rules.py.\n"
)


def _is_plain(value: str) -> bool:
    return (
        "\n" not in value
        and ": " not in value
        and " #" not in value
        and value[:1] not in "{[&*!|>'\"%@`-?:,#"
    )


def _scalar(key: str, value: str, indent: int) -> str:
    pad = " " * indent
    if _is_plain(value) and len(pad) + len(key) + len(value) + 2 <= _WIDTH:
        return f"{pad}{key}: {value}\n"
    inner = pad + "  "
    if "\n" in value:  # PromQL laid out on lines: more-indented lines keep their breaks
        lines = [inner + line if line else "" for line in value.split("\n")]
    else:
        lines = textwrap.wrap(value, _WIDTH - len(inner), break_on_hyphens=False)
        lines = [inner + line for line in lines]
    return f"{pad}{key}: >-\n" + "\n".join(lines) + "\n"


def _comment(text: str, indent: int) -> str:
    pad = " " * indent + "# "
    return "".join(
        f"{line}\n"
        for line in textwrap.wrap(text, _WIDTH, initial_indent=pad, subsequent_indent=pad)
    )


def render_recording() -> str:
    """``deploy/prometheus/rules/recording.yml``."""
    out = [
        "# Recording rules for livekit-agent-worker: the series the dashboards and alerts.yml "
        "read.\n",
        _GENERATED,
        "groups:\n  - name: agent-worker.recording\n    rules:\n",
    ]
    for i, rule in enumerate(RECORDING_RULES):
        out.append("\n" if i else "")
        out.append(_comment(rule.comment, 6))
        out.append(f"      - record: {rule.record}\n")
        out.append(_scalar("expr", rule.expr, 8))
    return "".join(out)


def render_alerts() -> str:
    """``deploy/prometheus/rules/alerts.yml``."""
    return render_alert_group(
        "agent-worker.alerts",
        "Alerting rules for livekit-agent-worker; each description is a short runbook. "
        "Tested by tests/alerts_test.yml.",
        ALERTS,
    )


def render_alert_group(group: str, header: str, alerts: tuple[AlertRule, ...]) -> str:
    """A rule file of one alert group, headed by the one-line comment ``header``."""
    out = [f"# {header}\n", _GENERATED, f"groups:\n  - name: {group}\n    rules:\n"]
    for i, rule in enumerate(alerts):
        out.append("\n" if i else "")
        out.append(f"      - alert: {rule.alert}\n")
        out.append(_scalar("expr", rule.expr, 8))
        out.append(f"        for: {rule.for_}\n")
        out.append(f"        labels:\n          severity: {rule.severity}\n")
        out.append("        annotations:\n")
        out.append(_scalar("summary", rule.summary, 10))
        out.append(_scalar("description", rule.description, 10))
    return "".join(out)
