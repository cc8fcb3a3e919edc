"""The fleet's Prometheus config (file-based discovery) and its alerts: promtool and coverage.

The live half, a real Prometheus running this config against a two-node cluster with three
workers, is ``tests/e2e/test_cluster.py``.
"""

from __future__ import annotations

from pathlib import Path

from devtools.harness import FLEET_CONFIG, fleet_config, write_targets
from devtools.observability.fleet import FLEET_ALERTS

from .promql import (
    PROMETHEUS_DIR,
    RULES_DIR,
    known_series_names,
    load_yaml,
    metric_names,
    promtool_ok,
)

FLEET_RULES = RULES_DIR / "fleet.yml"
FLEET_TESTS = PROMETHEUS_DIR / "tests" / "fleet_test.yml"


def test_the_fleet_config_is_valid() -> None:
    output = promtool_ok("check", "config", str(FLEET_CONFIG))
    assert "SUCCESS: 3 rule files found" in output


def test_the_fleet_config_discovers_workers_and_nodes_from_files() -> None:
    config = load_yaml(FLEET_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ("agent-worker", "livekit-server"):
        (sd,) = jobs[name]["file_sd_configs"]
        assert sd["files"] == [f"targets/{name}/*.json", f"targets/{name}/*.yml"]
    listed = {(PROMETHEUS_DIR / f).resolve() for f in config["rule_files"]}
    assert listed == {p.resolve() for p in RULES_DIR.glob("*.yml")}


def test_fleet_alert_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool_ok("test", "rules", str(FLEET_TESTS))


def test_every_fleet_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(FLEET_TESTS)["tests"]:
        for check in case.get("alert_rule_test") or []:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {alert.alert for alert in FLEET_ALERTS}
    assert names == {
        "AgentFleetWorkerNotRegistered",
        "AgentFleetAtCapacity",
        "AgentFleetDispatchFailures",
    }
    assert firing == names
    assert quiet == names


def test_fleet_alerts_are_runbooks_over_known_metrics() -> None:
    known = known_series_names()
    (group,) = load_yaml(FLEET_RULES)["groups"]
    assert group["name"] == "agent-worker.fleet"
    for rule in group["rules"]:
        assert metric_names(str(rule["expr"])) <= known, rule["alert"]
        assert "Check: (1)" in rule["annotations"]["description"], rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]


def test_the_test_config_is_the_shipped_one_with_local_files(tmp_path: Path) -> None:
    config = fleet_config(tmp_path, interval=1.0)
    shipped = load_yaml(FLEET_CONFIG)
    assert [j["job_name"] for j in config["scrape_configs"]] == ["agent-worker", "livekit-server"]
    for job in config["scrape_configs"]:
        (sd,) = job["file_sd_configs"]
        assert sd == {
            "files": [str(tmp_path / job["job_name"] / "*.json")],
            "refresh_interval": "1000ms",
        }
    assert config["global"]["scrape_interval"] == "1000ms"
    assert [Path(f).name for f in config["rule_files"]] == [
        Path(f).name for f in shipped["rule_files"]
    ]
    target = tmp_path / "agent-worker" / "w.json"
    write_targets(target, [(["127.0.0.1:1"], {"worker": "w0"})])
    assert load_yaml(target) == [{"targets": ["127.0.0.1:1"], "labels": {"worker": "w0"}}]
    assert not list(tmp_path.rglob("*.tmp"))
