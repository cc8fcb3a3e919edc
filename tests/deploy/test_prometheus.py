"""Prometheus config and rules: promtool checks, rule unit tests, and their coverage.

promtool must be installed (``$PROMTOOL`` or ``PATH``): these tests fail rather than skip
without it, since the rules are otherwise unchecked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.harness import find_promtool

from .promql import (
    DASHBOARDS_DIR,
    PROMETHEUS_DIR,
    RULES_DIR,
    check_promql_syntax,
    iter_panel_queries,
    iter_recording_rules,
    known_series_names,
    load_yaml,
    metric_names,
    promtool_ok,
)

CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = RULES_DIR / "alerts.yml"
RECORDING = RULES_DIR / "recording.yml"
UNIT_TESTS = PROMETHEUS_DIR / "tests" / "alerts_test.yml"

SEVERITIES = {"critical", "warning", "info"}


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule
    ]


def test_promtool_is_installed() -> None:
    assert Path(find_promtool()).is_file()


def test_config_is_valid() -> None:
    output = promtool_ok("check", "config", str(CONFIG))
    assert f"{len(load_yaml(CONFIG)['rule_files'])} rule files found" in output


def test_rule_files_are_valid() -> None:
    promtool_ok("check", "rules", str(RECORDING), str(ALERTS))


def test_rule_unit_tests_pass() -> None:
    output = promtool_ok("test", "rules", str(UNIT_TESTS))
    assert "SUCCESS" in output


def test_config_loads_every_rule_file() -> None:
    listed = {(PROMETHEUS_DIR / f).resolve() for f in load_yaml(CONFIG)["rule_files"]}
    assert listed == {p.resolve() for p in RULES_DIR.glob("*.yml")}
    tested = {(UNIT_TESTS.parent / f).resolve() for f in load_yaml(UNIT_TESTS)["rule_files"]}
    assert tested == listed


def test_scrape_jobs() -> None:
    jobs = {job["job_name"]: job for job in load_yaml(CONFIG)["scrape_configs"]}
    assert {"agent-worker", "livekit-server", "otel-collector", "tempo"} <= set(jobs)
    worker = jobs["agent-worker"]
    static = [t for sc in worker["static_configs"] for t in sc["targets"]]
    assert static == ["host.docker.internal:9464"]
    (dns,) = worker["dns_sd_configs"]
    assert (dns["names"], dns["type"], dns["port"]) == (["worker"], "A", 9464)


def test_every_alert_is_documented_and_classified() -> None:
    for rule in alert_rules():
        name = rule["alert"]
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations.get("summary"), name
        # Runbook style: what it means, then numbered things to check.
        assert "Check: (1)" in annotations.get("description", ""), name


def test_the_required_alerts_exist() -> None:
    exprs = {rule["alert"]: " ".join(str(rule["expr"]).split()) for rule in alert_rules()}
    assert "agent_worker_registered" in exprs["AgentWorkerNoneRegistered"]
    assert exprs["AgentWorkerDown"] == 'up{job="agent-worker"} == 0'
    assert "job_failure_ratio" in exprs["AgentWorkerJobFailureRatioHigh"]
    assert "dispatch_latency_seconds:p95" in exprs["AgentWorkerDispatchLatencyHigh"]
    assert "lk_agents_worker_load" in exprs["AgentWorkerLoadNearLimit"]
    assert exprs["AgentWorkerLoadNearLimit"].endswith("> 0.6")
    assert "agent_worker_span_export_failures_total" in exprs["AgentWorkerSpanExportFailing"]


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(UNIT_TESTS)["tests"]:
        for check in case.get("alert_rule_test") or []:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested not firing"
    assert (firing | quiet) - names == set(), "tests for alerts that do not exist"


def test_every_recording_rule_is_unit_tested() -> None:
    tested = {
        check["expr"].strip()
        for case in load_yaml(UNIT_TESTS)["tests"]
        for check in case.get("promql_expr_test") or []
    }
    records = {rule.record for rule in iter_recording_rules()}
    assert records - tested == set()


def test_firing_cases_check_labels_and_annotations() -> None:
    for case in load_yaml(UNIT_TESTS)["tests"]:
        for check in case.get("alert_rule_test") or []:
            for alert in check.get("exp_alerts") or []:
                assert alert["exp_labels"].get("severity"), case["name"]
                assert {"summary", "description"} <= set(alert["exp_annotations"]), case["name"]


@pytest.mark.parametrize("kind", ["record", "alert"])
def test_rules_read_only_metrics_that_exist(kind: str) -> None:
    known = known_series_names()
    for path in (RECORDING, ALERTS):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if kind in rule:
                    assert metric_names(str(rule["expr"])) <= known, rule[kind]


def test_recording_rule_names_follow_the_convention() -> None:
    for rule in iter_recording_rules():
        level, metric, operation = rule.record.split(":")
        assert level == "instance", rule.record
        assert metric.startswith("agent_worker_"), rule.record
        assert operation, rule.record
        assert "by (job, instance" in rule.expr, rule.record


def test_promql_syntax_checker_reports_broken_queries() -> None:
    failures = check_promql_syntax(["sum(rate(up[5m]))", "sum(rate(up[5m])"])
    assert list(failures) == ["sum(rate(up[5m])"]


def _readers() -> dict[str, str]:
    """Every dashboard and alert query, by where it is."""
    found = {f"alert {r['alert']}": " ".join(str(r["expr"]).split()) for r in alert_rules()}
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for query in iter_panel_queries(path):
            found[query.where] = query.expr
    return found


def test_every_recording_rule_is_read_by_a_dashboard_or_an_alert() -> None:
    readers = _readers()
    for rule in iter_recording_rules():
        assert any(rule.record in metric_names(e) for e in readers.values()), rule.record


def test_the_job_failure_ratio_is_defined_once() -> None:
    # only the recording rule divides failed by received jobs; dashboard and alert read it
    ratio = "instance:agent_worker_job_failure_ratio:rate5m"
    for where, expr in _readers().items():
        names = metric_names(expr)
        divides = {"agent_worker_jobs_failed_total", "agent_worker_jobs_received_total"} <= names
        # the fleet's dispatch failures (offered but not accepted, or could not join the room)
        # are another measure, of the dispatch path: they read the accepted jobs too
        divides = divides and "agent_worker_jobs_accepted_total" not in names
        assert not divides, f"{where} recomputes the failure ratio: read {ratio}"
    readers = [w for w, e in _readers().items() if ratio in metric_names(e)]
    assert any(w.startswith("alert ") for w in readers)
    assert any(not w.startswith("alert ") for w in readers)
