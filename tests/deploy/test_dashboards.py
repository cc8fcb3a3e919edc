"""The generated Grafana dashboards: up to date, layout, datasources, variables, PromQL, metrics.

The dashboards are built with grafana-foundation-sdk (``devtools/observability``), whose types
check the model; these tests check what the types cannot: the committed JSON is what the
generator writes, panels fit the grid, every query parses with promtool and reads only
metrics that exist, and exemplars are enabled exactly on the exemplar histograms.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import observability

from .promql import (
    ALLOWED_DATASOURCE_UIDS,
    BUILTIN_VARIABLES,
    DASHBOARDS_DIR,
    EXEMPLAR_HISTOGRAMS,
    REPO_ROOT,
    check_promql_syntax,
    iter_panel_queries,
    iter_panels,
    iter_variable_queries,
    known_series_names,
    load_dashboard,
    metric_names,
    variable_names,
)

#: File name -> stable dashboard uid (links and bookmarks rely on these).
EXPECTED_UIDS = {
    "worker-overview.json": "lk-worker-overview",
    "room-inspection.json": "lk-room-inspection",
    "livekit-server.json": "lk-livekit-server",
    "voice-pipeline.json": "lk-voice-pipeline",
    "fleet.json": "lk-worker-fleet",
}

# ------------------------------------------------------------------------------ fixtures

DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))


def dashboard_id(path: Path) -> str:
    return path.name


@pytest.fixture(params=DASHBOARD_FILES, ids=dashboard_id)
def dashboard_path(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture
def dashboard(dashboard_path: Path) -> dict[str, Any]:
    return load_dashboard(dashboard_path)


# ---------------------------------------------------------------------------------- tests


def test_the_dashboards_exist_with_stable_unique_uids() -> None:
    assert {p.name for p in DASHBOARD_FILES} == set(EXPECTED_UIDS)
    uids = {p.name: load_dashboard(p)["uid"] for p in DASHBOARD_FILES}
    assert uids == EXPECTED_UIDS
    assert len(set(uids.values())) == len(uids)


def test_committed_files_are_what_the_generator_writes() -> None:
    stale = observability.stale()
    assert stale == [], (
        f"{', '.join(stale)} differ from the generator's output: run "
        "`python -m devtools.observability` (make dashboards) and commit the result"
    )


def test_generated_dashboards_are_grafana_dashboard_models() -> None:
    # The SDK's own types build the model; loading the JSON back must give the same model.
    for path, produce in observability.GENERATED.items():
        if path.endswith(".json"):
            board = json.loads(produce())
            assert board["schemaVersion"] >= 39, path
            assert board["panels"], path
            assert all(p.get("type") and p.get("gridPos") for p in board["panels"]), path


def test_every_panel_has_a_description_and_a_unit(dashboard: dict[str, Any]) -> None:
    missing = [
        p.get("title")
        for p in iter_panels(dashboard)
        if not p.get("description") or not p.get("fieldConfig", {}).get("defaults", {}).get("unit")
    ]
    assert missing == []


def test_panel_ids_and_ref_ids_are_unique(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in iter_panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in iter_panels(dashboard):
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in iter_panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_datasources_are_referenced_only_by_fixed_uid_or_variable(
    dashboard: dict[str, Any],
) -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("type") != "grafana":
                assert ds.get("uid") in ALLOWED_DATASOURCE_UIDS, f"{path}: {ds}"
            elif ds is not None and not isinstance(ds, dict):
                pytest.fail(f"{path}: datasource by name {ds!r}; use a uid reference")
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}[{i}]")

    walk(dashboard, "$")


def test_prometheus_panels_use_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == "prometheus":
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            else:
                assert target["datasource"]["uid"] == "tempo", panel["title"]


def test_required_template_variables(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance", "agent_name"} <= set(variables)
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
    agent = variables["agent_name"]
    assert agent["type"] == "query"
    assert agent["query"] == "label_values(agent_worker_build_info, agent_name)"
    assert agent["datasource"]["uid"] == "${datasource}"
    assert variables["instance"]["type"] == "query"
    assert variables["instance"]["datasource"]["uid"] == "${datasource}"


def test_every_variable_used_is_defined(dashboard: dict[str, Any]) -> None:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    allowed = defined | set(BUILTIN_VARIABLES) | {"__url_time_range", "__value"}
    used: set[str] = set()
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            used |= variable_names(target.get("expr", "") + target.get("query", ""))
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        used |= variable_names(query if isinstance(query, str) else str(query))
    assert used - allowed == set()


def test_worker_panels_are_scoped_by_instance(dashboard_path: Path) -> None:
    for query in iter_panel_queries(dashboard_path):
        if query.dashboard_uid == "lk-livekit-server" and "agent_name" in query.raw_expr:
            continue  # the agent-jobs panel joins on build_info by agent name
        selectors = re.findall(r"\{[^{}]*\}", query.raw_expr)
        assert selectors, query.where
        assert all(
            'instance=~"$instance"' in s or "$agent_name" in s for s in selectors
        ), query.where


def test_every_promql_query_parses() -> None:
    exprs: dict[str, str] = {}
    for path in DASHBOARD_FILES:
        for query in iter_panel_queries(path, instance="worker:9464", agent_name="my-agent"):
            exprs.setdefault(query.expr, query.where)
        for variable in iter_variable_queries(path):
            exprs.setdefault(variable.selector, f"{variable.dashboard} / ${variable.name}")
    assert len(exprs) > 40
    failures = check_promql_syntax(list(exprs))
    assert failures == {}, "\n".join(f"{exprs[e]}: {e}\n{out}" for e, out in failures.items())


def test_queries_read_only_metrics_that_exist() -> None:
    known = known_series_names()
    unknown = {}
    for path in DASHBOARD_FILES:
        for query in iter_panel_queries(path):
            for name in metric_names(query.expr) - known:
                unknown[name] = query.where
        for variable in iter_variable_queries(path):
            for name in metric_names(variable.selector) - known:
                unknown[name] = variable.name
    assert unknown == {}


def test_metric_names_lexer() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{instance=~"x:1", le!="+Inf"}[1m]))) '
        "/ on (job, instance) group_left (agent_name) b_info "
        "* -sum without (x) (c_total offset 5m) > bool 1e-3 or vector(0)"
    )
    assert metric_names(expr) == {"a_bucket", "b_info", "c_total"}


def test_exemplars_on_the_exemplar_histograms_only() -> None:
    with_exemplars = [q for path in DASHBOARD_FILES for q in iter_panel_queries(path) if q.exemplar]
    for query in with_exemplars:
        names = {n.removesuffix("_bucket") for n in metric_names(query.expr)}
        assert names & EXEMPLAR_HISTOGRAMS, query.where
    panels = {(q.dashboard_uid, q.panel) for q in with_exemplars}
    overview = {panel for uid, panel in panels if uid == "lk-worker-overview"}
    assert any("Dispatch latency" in p for p in overview)
    assert any("Job duration" in p for p in overview)
    # Every panel plotting an exemplar histogram's quantiles enables exemplars.
    for path in DASHBOARD_FILES:
        by_panel: dict[tuple[str, str], bool] = {}
        for q in iter_panel_queries(path):
            names = {n.removesuffix("_bucket") for n in metric_names(q.expr)}
            if names & EXEMPLAR_HISTOGRAMS:
                key = (q.dashboard_uid, q.panel)
                by_panel[key] = by_panel.get(key, False) or q.exemplar
        assert all(by_panel.values()), by_panel


def test_worker_overview_covers_the_questions_it_answers() -> None:
    dashboard = load_dashboard(DASHBOARDS_DIR / "worker-overview.json")
    text = " ".join(t.get("expr", "") for p in iter_panels(dashboard) for t in p.get("targets", []))
    for metric in (
        "agent_worker_registered",
        "lk_agents_active_jobs",
        "lk_agents_worker_load",
        "lk_agents_child_processes",
        "agent_worker_jobs_received_total",
        "agent_worker_jobs_failed_total",
        "agent_worker_dispatch_latency_seconds_bucket",
        "agent_worker_active_participants",
        "agent_worker_tracks_published_total",
        "agent_worker_prewarm_duration_seconds_bucket",
        "agent_worker_span_export_failures_total",
        "agent_worker_event_loop_lag_seconds_bucket",
    ):
        assert metric in text, metric
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}" in text or f"histogram_quantile({q}0" in text
    assert "heatmap" in {p["type"] for p in iter_panels(dashboard)}


def test_room_inspection_searches_tempo_by_room() -> None:
    dashboard = load_dashboard(DASHBOARDS_DIR / "room-inspection.json")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["room_sid"]["type"] == "textbox"
    assert variables["room_name"]["type"] == "textbox"
    tempo = [
        (p, t)
        for p in iter_panels(dashboard)
        for t in p.get("targets", [])
        if t["datasource"]["uid"] == "tempo"
    ]
    queries = [t["query"] for _, t in tempo]
    assert '{ span."lk.room_sid" = "$room_sid" }' in queries
    assert any('span."lk.pii.room_name" = "$room_name"' in q for q in queries)
    assert any('name = "participant"' in q for q in queries)
    assert any("track_published" in q and "event:name" in q for q in queries)
    assert "traces" in {p["type"] for p, _ in tempo}
    table = next(p for p, t in tempo if t["query"] == '{ span."lk.room_sid" = "$room_sid" }')
    assert table["type"] == "table"
    for query in queries:
        assert query.count("{") == query.count("}"), query
        assert query.count('"') % 2 == 0, query


def test_livekit_server_dashboard_covers_rooms_participants_packets_loss() -> None:
    path = DASHBOARDS_DIR / "livekit-server.json"
    names = set().union(*(metric_names(q.expr) for q in iter_panel_queries(path)))
    for metric in (
        "livekit_room_total",
        "livekit_participant_total",
        "livekit_packet_total",
        "livekit_packet_bytes",
        "livekit_packet_loss_total",
        "livekit_nack_total",
    ):
        assert metric in names, metric


def test_datasource_provisioning_matches_the_dashboards() -> None:
    provisioning = REPO_ROOT / "deploy" / "grafana" / "provisioning"
    data = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())
    by_uid = {d["uid"]: d for d in data["datasources"]}
    assert set(by_uid) == {"prometheus", "tempo"}
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["tempo"]["type"] == "tempo"
    exemplar = by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert {"name": "trace_id", "datasourceUid": "tempo"} in exemplar
    assert by_uid["tempo"]["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())
    paths = [p["options"]["path"] for p in providers["providers"]]
    assert paths == ["/var/lib/grafana/dashboards"]


def test_traces_to_metrics_queries_parse() -> None:
    path = REPO_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    data = yaml.safe_load(path.read_text())
    tempo = next(d for d in data["datasources"] if d["uid"] == "tempo")
    exprs = [q["query"] for q in tempo["jsonData"]["tracesToMetrics"]["queries"]]
    assert exprs
    assert check_promql_syntax(exprs) == {}
    known = known_series_names()
    assert set().union(*(metric_names(e) for e in exprs)) <= known
