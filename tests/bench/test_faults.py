"""The fault bench's pieces, from known values: its targets and verdicts, its table and its
place in the README, and its configuration (``bench.faults``, ``bench.faults_report``)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.confidence import bootstrap_ratio, p95
from bench.config import FULL
from bench.dispatch import WorkerRun
from bench.faults import FAULTS_FULL, FAULTS_QUICK, KINDS
from bench.faults_report import BEGIN, END, embed_faults, render_faults
from bench.figures import latency_figures
from bench.load import RoomTiming
from bench.published import README
from bench.stats import summarize
from bench.targets import COLLECTOR_DOWN_LATENCY_RATIO_MAX, fault_targets

_PLAN = {"concurrent_rooms": 20, "ramp_spacing": 0.5, "probe_rooms": 48, "probe_spacing": 1.5}
_UP = [0.30 + 0.002 * i for i in range(100)]  # p95 about 0.49 s


def _loaded(down: list[float], hanging: list[float]) -> dict[str, Any]:
    samples = {"ours": _UP, "ours_collector_down": down, "ours_collector_hanging": hanging}
    figures: dict[str, Any] = {
        kind: {"joined": summarize(values), "entrypoint": summarize([v / 2 for v in values])}
        for kind, values in samples.items()
    }
    figures["ci95"] = {
        f"{kind}/ours": {"joined_p95": bootstrap_ratio(samples[kind], _UP, p95).as_dict()}
        for kind in ("ours_collector_down", "ours_collector_hanging")
    }
    return figures


def test_a_fault_worker_like_the_collector_up_one_passes_and_a_slower_one_fails() -> None:
    slower = [v * 1.3 for v in _UP]
    down, hanging = fault_targets(_loaded(list(_UP), slower), rooms=20)
    assert down["name"] == "Collector down: dispatch p95 at 20 rooms, down / up"
    assert down["value"] == 1.0
    assert down["verdict"] == "PASS"
    assert down["ci95"][1] <= COLLECTOR_DOWN_LATENCY_RATIO_MAX
    assert down["n"] == {"ours": 100, "bare": 100}
    assert hanging["name"] == "Collector hanging: dispatch p95 at 20 rooms, hanging / up"
    assert hanging["value"] == pytest.approx(1.3, abs=0.001)
    assert hanging["verdict"] == "FAIL"


def test_an_interval_across_the_limit_is_inconclusive() -> None:
    few = [v * 1.1 for v in _UP[::10]]  # ten rooms: a p95 ratio about 1.06, loosely known
    down, _ = fault_targets(_loaded(few, list(_UP)), rooms=20)
    low, high = down["ci95"]
    assert low < COLLECTOR_DOWN_LATENCY_RATIO_MAX < high
    assert down["verdict"] == "INCONCLUSIVE"


def _results() -> dict[str, Any]:
    targets = fault_targets(_loaded(list(_UP), [v * 1.3 for v in _UP]), rooms=20)
    return {
        "machine": {"cores": 2, "cpu_model": "Test CPU"},
        "method": {
            "time_budget_s": 3600.0,
            "visits": {"plan": _PLAN, "cycles": 4},
        },
        "dispatch": {"loaded": _loaded(list(_UP), [v * 1.3 for v in _UP])},
        "visits": {"cycles": 9, "by_kind": {}},
        "targets": targets,
        "generated_at": "2026-11-30T10:00:00+00:00",
        "duration_s": 3540.0,
    }


def test_the_table_gives_each_worker_s_dispatch_and_each_target_s_interval() -> None:
    markdown = render_faults(_results())
    assert "| Collector up | 100 | 399 / 488 / 496 | 200 / 244 |" in markdown
    assert "| Collector hanging | 100 | 519 / 634 / 645 | 259 / 317 |" in markdown
    assert "| Collector down: dispatch p95 at 20 rooms, down / up | 1.000 | [" in markdown
    assert "| 95 % CI (probe rooms) | 95 % CI (cycles) |" in markdown
    assert "| — | <= 1.05 | PASS |" in markdown  # no cycles given: no interval over them
    assert "| <= 1.05 | PASS |" in markdown
    assert "| <= 1.05 | FAIL |" in markdown
    assert "59.0 min, 2026-11-30: 9 cycle(s) of visits (at least 4" in markdown
    assert "within 60 min" in markdown
    assert "then 48 probe rooms 1.5 s apart" in markdown
    assert "2 cores (Test CPU)" in markdown


def test_embedding_replaces_only_the_fault_section_which_the_readme_has() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert embed_faults("new\n", document) == f"before\n{BEGIN}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="fault bench figures"):
        embed_faults("new", "no markers")
    readme = README.read_text()
    assert readme.index(BEGIN) < readme.index(END)


def test_the_fault_visits_are_the_main_bench_s_with_more_probes_per_visit() -> None:
    assert [k.name for k in KINDS] == ["ours", "ours_collector_down", "ours_collector_hanging"]
    plan, main_plan = FAULTS_FULL.visits.plan, FULL.visits.plan
    assert plan.probe_rooms == 2 * main_plan.probe_rooms
    assert (plan.concurrent_rooms, plan.ramp_spacing, plan.probe_spacing) == (
        main_plan.concurrent_rooms,
        main_plan.ramp_spacing,
        main_plan.probe_spacing,
    )
    assert FAULTS_FULL.visits.cycles * plan.probe_rooms >= 150
    assert FAULTS_FULL.time_budget <= 60 * 60
    assert FAULTS_QUICK.visits.max_cycles == 1


def test_without_a_bare_worker_the_figures_compare_the_faults_with_ours_alone() -> None:
    def run(kind: str, scale: float) -> WorkerRun:
        rooms = [RoomTiming(f"{kind}-{i}", 0.0, joined=v * scale) for i, v in enumerate(_UP)]
        return WorkerRun(kind, loaded=rooms)

    figures = latency_figures(
        {"ours": [run("ours", 1.0)], "ours_collector_down": [run("ours_collector_down", 1.2)]}
    )["loaded"]
    assert figures["ratio_to_bare"] == {}
    assert list(figures["ci95"]) == ["ours_collector_down/ours"]
    assert figures["ci95"]["ours_collector_down/ours"]["joined_p95"]["value"] == 1.2


def _visit(joined: list[float], machine: dict[str, float]) -> dict[str, Any]:
    rooms = [{"joined_s": v} for v in joined]
    return {"jobs": 4, "cpu_s": 2.0, "machine": machine, "rooms": {"loaded": rooms}}


def test_a_visit_with_a_probe_over_a_second_is_listed_with_what_the_machine_did() -> None:
    results = _results()
    results["visits"]["by_kind"] = {
        "ours": [_visit([0.3, 0.4], {}), _visit([0.3, 0.4], {})],
        "ours_collector_hanging": [
            _visit([0.3, 0.4], {"major_faults": 3.0}),
            _visit([0.3, 2.5, 1.2], {"major_faults": 950.0, "steal_s": 0.5}),
        ],
    }
    markdown = render_faults(results)
    assert "Visits with a probe room slower than 1 s:" in markdown
    assert (
        "- Collector hanging, cycle 2: 2 of 3 probe rooms over 1 s (slowest 2.5 s); CPU per "
        "job 0.500 s; major faults 950, stolen CPU 0.50 s." in markdown
    )
    assert "cycle 1" not in markdown
    results["visits"]["by_kind"] = {"ours": [_visit([0.3], {})]}
    assert "slower than 1 s" not in render_faults(results)
