"""Every TraceQL query a user runs from Grafana parses with Grafana's own TraceQL grammar.

``devtools/traceql/check.mjs`` runs ``@grafana/lezer-traceql`` (installed from the committed
lock file by ``make test``) under Node; a query with a syntax error fails here, in the fast
tier, instead of showing an error in a panel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import yaml

from devtools.observability import room_inspection

from .promql import DASHBOARDS_DIR, REPO_ROOT, iter_panels, load_dashboard, substitute

TRACEQL_DIR = REPO_ROOT / "devtools" / "traceql"
DATASOURCES = REPO_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
_SAMPLE = {"room_sid": "RM_a1b2c3", "room_name": "demo-room", "trace_id": "0" * 32}


def parse(queries: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``{query: syntax errors}`` from Grafana's TraceQL parser (an empty list: it parses)."""
    node = shutil.which("node")
    assert node, "node is missing: install Node.js (make test needs it for the TraceQL check)"
    installed = TRACEQL_DIR / "node_modules" / "@grafana" / "lezer-traceql"
    assert installed.is_dir(), "run `npm ci --prefix devtools/traceql` (make test does)"
    result = subprocess.run(
        [node, str(TRACEQL_DIR / "check.mjs")],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=TRACEQL_DIR,
    )
    return {r["query"]: r["errors"] for r in json.loads(result.stdout)}


def _dashboard_queries() -> Iterator[tuple[str, str]]:
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        dashboard = load_dashboard(path)
        for panel in iter_panels(dashboard):
            for target in panel.get("targets") or []:
                if (target.get("datasource") or {}).get("type") == "tempo":
                    yield f"{path.name} / {panel['title']}", target["query"]


def _datasource_queries() -> Iterator[tuple[str, str]]:
    """TraceQL in the Tempo datasource's links (tracesToMetrics queries are PromQL)."""
    data = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    for source in data["datasources"]:
        links = source.get("jsonData") or {}
        for key, value in links.items():
            if key.startswith("traces") and key != "tracesToMetrics" and isinstance(value, dict):
                for query in value.get("queries") or []:
                    yield f"datasources.yaml / {key}", query["query"]


def traceql_queries() -> dict[str, str]:
    """Every TraceQL query with variables substituted, and where it comes from."""
    found: dict[str, str] = {}
    for where, query in [*_dashboard_queries(), *_datasource_queries()]:
        if query == "$trace_id":
            continue  # the Trace panel looks a trace up by id: not TraceQL
        found[substitute(query, _SAMPLE)] = where
    return found


def test_every_traceql_query_parses() -> None:
    queries = traceql_queries()
    assert len(queries) >= len(room_inspection.TRACEQL_QUERIES)
    errors = {q: e for q, e in parse(list(queries)).items() if e}
    assert errors == {}, "\n".join(f"{queries[q]}: {q}\n  {e}" for q, e in errors.items())


def test_the_room_inspection_queries_are_all_checked() -> None:
    expected = {substitute(q, _SAMPLE) for q in room_inspection.TRACEQL_QUERIES}
    assert expected <= set(traceql_queries())


def test_a_broken_query_is_reported_with_its_position() -> None:
    good = '{ span."lk.room_sid" = "RM_x" }'
    broken = '{ name = "job_entrypoint" && }'
    result = parse([good, broken])
    assert result[good] == []
    assert result[broken], "the parser accepted a query with a dangling &&"
    assert result[broken][0]["from"] == broken.index("}")
