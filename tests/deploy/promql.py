"""The PromQL that the dashboards and Prometheus rules run, ready to check or evaluate.

``iter_panel_queries`` yields every Prometheus query of a dashboard with Grafana's template
variables substituted (``$instance``, ``$agent_name``, ``${datasource}``, ``$__rate_interval``
and the other built-ins), so a test can hand each one to a real Prometheus. Template-variable
queries (``label_values(...)``) come from ``iter_variable_queries`` as plain series selectors.
``iter_recording_rules`` yields the recording rules of ``deploy/prometheus/rules``.

``check_promql_syntax`` parses expressions with ``promtool`` (found by
``devtools.harness.find_promtool``), and ``metric_names`` lists the metric names an
expression reads. ``promtool_ok`` runs one promtool command in ``deploy/prometheus`` and
``load_yaml`` reads a config or rule file, for the deploy tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devtools.harness import run_promtool
from devtools.observability.livekit_server import LIVEKIT_SERVER_METRICS
from devtools.observability.voice_pipeline import PRICES
from telemetry.catalogue import METRICS

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "dashboards"
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"

#: Datasource uids a panel or target may name: the provisioned ones, or the template variable.
ALLOWED_DATASOURCE_UIDS = frozenset({"prometheus", "tempo", "${datasource}"})
PROMETHEUS_DATASOURCE_UIDS = frozenset({"prometheus", "${datasource}", "$datasource"})

#: Values Grafana's built-in variables take in substituted queries.
BUILTIN_VARIABLES: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__auto": "15s",
}

# $name, ${name}, ${name:format}, [[name]]
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")


class UnknownVariableError(KeyError):
    """A query names a template variable that has no value."""


@dataclass(frozen=True)
class PanelQuery:
    """One Prometheus query of a dashboard panel, variables substituted."""

    dashboard: str
    dashboard_uid: str
    panel: str
    panel_id: int
    ref_id: str
    expr: str
    raw_expr: str
    exemplar: bool
    instant: bool

    @property
    def where(self) -> str:
        """Human-readable location, for assertion messages."""
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


@dataclass(frozen=True)
class VariableQuery:
    """The series selector behind a ``label_values(...)`` template variable."""

    dashboard: str
    name: str
    selector: str
    label: str
    raw_query: str


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule of ``deploy/prometheus/rules``."""

    file: str
    group: str
    record: str
    expr: str


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replaces Grafana template variables in ``expr``.

    Args:
        expr: A query as stored in the dashboard.
        variables: Values of the dashboard's variables; the built-ins come from
            ``BUILTIN_VARIABLES`` unless given here.

    Returns:
        The query with every variable replaced.

    Raises:
        UnknownVariableError: ``expr`` uses a variable with no value.
    """
    values = {**BUILTIN_VARIABLES, **variables}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise UnknownVariableError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def variable_names(text: str) -> set[str]:
    """Names of the template variables ``text`` uses (built-ins included)."""
    return {m.group(1) or m.group(2) or m.group(3) for m in _VARIABLE.finditer(text)}


def load_dashboard(path: Path) -> dict[str, Any]:
    """Parses a dashboard JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a dashboard is a JSON object")
    return data


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, including those nested in (collapsed) rows."""

    def walk(panels: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            if isinstance(panel, dict):
                yield panel
                yield from walk(panel.get("panels") or [])

    yield from walk(dashboard.get("panels") or [])


def _is_prometheus(datasource: Any, default: Any = None) -> bool:
    ds = datasource if isinstance(datasource, dict) else default
    if not isinstance(ds, dict):
        return False
    return ds.get("type") == "prometheus" or ds.get("uid") in PROMETHEUS_DATASOURCE_UIDS


def dashboard_variables(
    *,
    instance: str = ".*",
    agent_name: str = ".*",
    datasource: str = "prometheus",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Values for the dashboards' template variables.

    ``instance`` and ``agent_name`` are used as regex matchers (``=~"$instance"``), so ``.*``
    selects everything and a literal ``host:port`` selects one target.
    """
    values = {
        "instance": instance,
        "agent_name": agent_name,
        "datasource": datasource,
        "room_sid": "",
        "room_name": "",
        "trace_id": "",
        # the Voice pipeline dashboard's unit prices
        **{name: default for name, (_label, default) in PRICES.items()},
    }
    values.update(extra or {})
    return values


def iter_panel_queries(
    dashboard_path: Path | str,
    *,
    instance: str = ".*",
    agent_name: str = ".*",
    datasource: str = "prometheus",
    extra: Mapping[str, str] | None = None,
) -> Iterator[PanelQuery]:
    """Every Prometheus query of a dashboard's panels, with variables substituted.

    Tempo (TraceQL) targets are skipped. Hidden targets are included.

    Args:
        dashboard_path: A dashboard JSON file.
        instance: Value of ``$instance`` (a regex).
        agent_name: Value of ``$agent_name`` (a regex).
        datasource: Value of ``${datasource}``.
        extra: Values of further variables.

    Yields:
        One ``PanelQuery`` per Prometheus target.
    """
    path = Path(dashboard_path)
    dashboard = load_dashboard(path)
    values = dashboard_variables(
        instance=instance, agent_name=agent_name, datasource=datasource, extra=extra
    )
    for panel in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            if not _is_prometheus(target.get("datasource"), panel.get("datasource")):
                continue
            raw = target.get("expr")
            if not isinstance(raw, str):
                continue
            yield PanelQuery(
                dashboard=str(dashboard.get("title", path.stem)),
                dashboard_uid=str(dashboard.get("uid", "")),
                panel=str(panel.get("title", "")),
                panel_id=int(panel.get("id", 0)),
                ref_id=str(target.get("refId", "")),
                expr=substitute(raw, values),
                raw_expr=raw,
                exemplar=bool(target.get("exemplar", False)),
                instant=bool(target.get("instant", False)) and not target.get("range", False),
            )


_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$"
)


def iter_variable_queries(
    dashboard_path: Path | str,
    *,
    instance: str = ".*",
    agent_name: str = ".*",
    datasource: str = "prometheus",
) -> Iterator[VariableQuery]:
    """The series selectors of a dashboard's ``label_values(selector, label)`` variables."""
    path = Path(dashboard_path)
    dashboard = load_dashboard(path)
    values = dashboard_variables(instance=instance, agent_name=agent_name, datasource=datasource)
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if not isinstance(query, str):
            continue
        match = _LABEL_VALUES.match(query)
        if match is None or not match.group("selector"):
            continue
        yield VariableQuery(
            dashboard=str(dashboard.get("title", path.stem)),
            name=str(variable.get("name")),
            selector=substitute(match.group("selector"), values),
            label=match.group("label"),
            raw_query=query,
        )


def iter_recording_rules(rules_dir: Path | str = RULES_DIR) -> Iterator[RecordingRule]:
    """Every recording rule (``record:``) in the rule files of ``rules_dir``."""
    for path in sorted(Path(rules_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    yield RecordingRule(
                        file=path.name,
                        group=str(group.get("name")),
                        record=str(rule["record"]),
                        expr=" ".join(str(rule["expr"]).split()),
                    )


# ------------------------------------------------------------------------------ known names

_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

#: Histograms whose observations carry trace_id exemplars.
EXEMPLAR_HISTOGRAMS = frozenset(m.name for m in METRICS if m.exemplars)


def known_series_names() -> set[str]:
    """Every series name a dashboard, rule or alert may read: the worker's catalogue, the
    livekit-server metrics the LiveKit dashboard reads, and the recording rules."""
    names = {"up"}
    for metric in METRICS:
        names |= metric.series_names
    for name, kind in LIVEKIT_SERVER_METRICS.items():
        names.add(name)
        if kind == "histogram":
            names.update(name + suffix for suffix in _HISTOGRAM_SUFFIXES)
    names.update(rule.record for rule in iter_recording_rules())
    return names


# ------------------------------------------------------------------------------ metric names

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?!\w)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names read by a (substituted) PromQL expression.

    A light lexer rather than a parser: it drops strings, label matchers, ranges and
    grouping clauses, then keeps identifiers that are not functions or keywords.
    """
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def load_yaml(path: Path) -> Any:
    """The YAML document at ``path``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def promtool_ok(*args: str) -> str:
    """promtool's output for ``args``, run in ``deploy/prometheus``; asserts it succeeded."""
    result = run_promtool(*args, cwd=PROMETHEUS_DIR)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def check_promql_syntax(exprs: Sequence[str]) -> dict[str, str]:
    """Parses each expression with ``promtool check rules``.

    Args:
        exprs: Substituted PromQL expressions.

    Returns:
        ``{expr: promtool's error output}`` for every expression that does not parse; empty
        when all do.
    """

    def check(batch: Sequence[str]) -> subprocess.CompletedProcess[str]:
        rules = [{"record": f"query:syntax_check:{i}", "expr": e} for i, e in enumerate(batch)]
        document = {"groups": [{"name": "syntax-check", "rules": rules}]}
        with tempfile.TemporaryDirectory(prefix="promql-check-") as tmp:
            path = Path(tmp) / "queries.yml"
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
            return run_promtool("check", "rules", str(path))

    unique = list(dict.fromkeys(exprs))
    if not unique or check(unique).returncode == 0:
        return {}
    failures = {}
    for expr in unique:
        result = check([expr])
        if result.returncode != 0:
            failures[expr] = (result.stdout + result.stderr).strip()
    return failures
