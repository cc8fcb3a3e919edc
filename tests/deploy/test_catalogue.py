"""The metric catalogue against everything that names a metric: README, dashboards, rules.

A name that is not in the catalogue (nor a livekit-server metric the LiveKit dashboard reads,
nor a recording rule) fails, and so does a catalogue metric a user cannot see anywhere: in no
dashboard, no alert and nowhere in the README's prose.
"""

from __future__ import annotations

import re
from pathlib import Path

import prometheus_client
import pytest
from livekit.agents.telemetry import metrics as sdk_metrics

from devtools.observability.readme import BEGIN, END, update_readme
from telemetry.catalogue import METRICS, Metric, by_name
from telemetry.exposition import SDK_RENAMES

from .promql import DASHBOARDS_DIR, REPO_ROOT, RULES_DIR, known_series_names

README = REPO_ROOT / "README.md"
_NAME = re.compile(
    r"(?<![\w:])(?:agent_worker|lk_agents|livekit|gen_ai_client)_[a-z0-9][a-z0-9_]*(?![\w:])"
)


def unknown_names(text: str) -> set[str]:
    """Metric-like names in ``text`` that the catalogue, livekit-server list and rules lack."""
    allowed = known_series_names() | set(SDK_RENAMES)  # the README explains the SDK's names
    return {name for name in _NAME.findall(text) if name not in allowed}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _readme_prose() -> str:
    text = _read(README)
    return text[: text.index(BEGIN)] + text[text.index(END) :]


def _visible_text() -> str:
    """What a user reads besides the generated table: dashboards, alerts, the README prose."""
    parts = [_read(p) for p in sorted(DASHBOARDS_DIR.glob("*.json"))]
    parts.append(_read(RULES_DIR / "alerts.yml"))
    parts.append(_readme_prose())
    return "\n".join(parts)


@pytest.mark.parametrize(
    "path",
    [README, *sorted(DASHBOARDS_DIR.glob("*.json")), *sorted(RULES_DIR.glob("*.yml"))],
    ids=lambda p: p.name,
)
def test_every_metric_named_is_in_the_catalogue(path: Path) -> None:
    assert unknown_names(_read(path)) == set()


def test_the_guard_reports_a_name_missing_from_the_catalogue() -> None:
    text = "rate(agent_worker_jobs_received_total[5m]) / agent_worker_jobs_vanished_total"
    assert unknown_names(text) == {"agent_worker_jobs_vanished_total"}


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_catalogue_metric_is_visible_somewhere(metric: Metric) -> None:
    names = set(_NAME.findall(_visible_text()))
    assert names & metric.series_names, f"{metric.name} is in no dashboard, alert or README text"


def test_the_readme_metric_table_is_up_to_date() -> None:
    text = _read(README)
    assert update_readme(text) == text, "run `python -m devtools.observability`"


def test_catalogue_names_are_unique_and_follow_the_convention() -> None:
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for metric in METRICS:
        # the OpenTelemetry GenAI conventions name their metrics themselves
        prefix = "gen_ai_client_" if metric.convention else "agent_worker_"
        assert metric.name.startswith(prefix if metric.owner == "worker" else "lk_")
        assert (metric.type == "histogram") == bool(metric.buckets), metric.name
        assert list(metric.buckets) == sorted(metric.buckets), metric.name
        assert not metric.exemplars or metric.type == "histogram", metric.name
        assert metric.owner == "worker" or not metric.name.endswith("_count"), metric.name
        assert by_name(metric.exposed) is metric


def _sdk_families() -> dict[str, prometheus_client.metrics.MetricWrapperBase]:
    objects = vars(sdk_metrics).values()
    return {
        SDK_RENAMES.get(o._name, o._name): o
        for o in objects
        if isinstance(o, prometheus_client.metrics.MetricWrapperBase)
    }


def test_sdk_entries_match_the_installed_livekit_agents() -> None:
    # the SDK's metric objects: a livekit-agents upgrade that renames or relabels one fails here
    families = _sdk_families()
    declared = {m.name: m for m in METRICS if m.owner == "sdk"}
    assert set(families) == set(declared)
    for name, family in families.items():
        metric = declared[name]
        assert family._type == metric.type, name
        labels = tuple(family._labelnames)
        if metric.multiprocess_mode == "all" and metric.type == "gauge":
            labels += ("pid",)  # prometheus_client adds pid to "all"-mode gauges
        assert labels == metric.labels, name
        assert family._documentation == metric.help, name
