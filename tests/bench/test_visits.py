"""The visits' schedule: the rotating order, the cycles' bounds, and what the phase returns
(``bench.visits``), with the workers and rooms replaced by fakes."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bench.visits as visits_module
from bench.config import FULL, QUICK
from bench.dispatch import RunTarget, WorkerRun
from bench.load import RoomTiming
from bench.visits import Visits, VisitSpec, run_visits, visit_order, while_undecided
from bench.workers import BARE, OURS, OURS_COLLECTOR_DOWN, OURS_COLLECTOR_HANGING
from devtools.synthetic import ServerAccess

_KINDS = (BARE, OURS, OURS_COLLECTOR_DOWN, OURS_COLLECTOR_HANGING)


def _balance(names: str, cycles: int) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    kinds = [SimpleNamespace(name=name) for name in names]
    orders = [[k.name for k in visit_order(kinds, cycle)] for cycle in range(cycles)]  # type: ignore[arg-type]
    for order in orders:
        assert sorted(order) == sorted(names)
    firsts = Counter(order[0] for order in orders)
    follows = Counter(pair for order in orders for pair in itertools.pairwise(order))
    return firsts, follows


@pytest.mark.parametrize(("names", "cycles"), [("ABCD", 4), ("ABCD", 8), ("ABCDEF", 6), ("ABC", 6)])
def test_over_its_cycles_every_worker_comes_first_and_follows_every_other_equally_often(
    names: str, cycles: int
) -> None:
    firsts, follows = _balance(names, cycles)
    assert set(firsts) == set(names)
    assert len(set(firsts.values())) == 1
    every_pair = {(a, b) for a in names for b in names if a != b}
    assert set(follows) == every_pair
    assert len(set(follows.values())) == 1


def test_the_bench_s_four_workers_start_in_their_given_order() -> None:
    assert [k.name for k in visit_order(_KINDS, 0)] == [
        "bare",
        "ours",
        "ours_collector_hanging",
        "ours_collector_down",
    ]
    assert visit_order((), 3) == ()


def test_the_configured_visits_measure_the_loaded_phase_alone() -> None:
    for config in (FULL, QUICK):
        plan = config.visits.plan
        assert plan.single_rooms == 0
        assert plan.bursts == 0
        assert plan.probe_rooms > 0
        assert plan.concurrent_rooms == config.plan.concurrent_rooms
        assert config.plan.probe_rooms == 0  # the whole workload's loaded phase has no probes
        assert 1 <= config.visits.cycles <= config.visits.max_cycles
    assert FULL.visits.cycles * FULL.visits.plan.probe_rooms >= 100


class _Fakes:
    """Stands in for the workers and the rooms: records what the phase does."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.visited: list[tuple[str, str]] = []

    def start_worker(self, kind: Any, *_args: Any, **_kwargs: Any) -> Any:
        self.started.append(kind.name)
        return SimpleNamespace(name=kind.name, process=SimpleNamespace(pid=100 + len(self.started)))

    def stop_worker(self, worker: Any) -> None:
        self.stopped.append(worker.name)

    def measure_worker(self, worker: Any, kind: Any, *_args: Any) -> WorkerRun:
        return WorkerRun(kind.name, single=[RoomTiming(f"{kind.name}-single", 0.0)])

    def serve_visit(
        self, worker: Any, kind: Any, _target: Any, _plan: Any, prefix: str
    ) -> WorkerRun:
        self.visited.append((kind.name, prefix))
        return WorkerRun(kind.name, loaded=[RoomTiming(prefix, 0.0)])


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> _Fakes:
    fake = _Fakes()
    for name in ("start_worker", "stop_worker", "measure_worker", "serve_visit"):
        monkeypatch.setattr(visits_module, name, getattr(fake, name))
    sizes = iter(range(1, 1000))
    monkeypatch.setattr(visits_module, "rss", lambda _pid: next(sizes) * 2**20)
    return fake


def _targets(tmp_path: Path) -> dict[str, RunTarget]:
    access = ServerAccess("ws://127.0.0.1:1", "key", "secret")
    return {k.name: RunTarget(access, tmp_path / k.name, "http://127.0.0.1:2") for k in _KINDS}


def _run(tmp_path: Path, spec: VisitSpec, another: Any) -> Visits:
    return run_visits(
        _KINDS, _targets(tmp_path), QUICK.plan, spec, lambda _line: None, another_cycle=another
    )


def test_the_minimum_cycles_run_without_asking_then_each_more_is_asked_for(
    fakes: _Fakes, tmp_path: Path
) -> None:
    asked: list[int] = []

    def another(visits: Visits, _seconds: float) -> bool:
        asked.append(visits.cycles)
        return len(asked) < 3

    spec = VisitSpec(QUICK.visits.plan, cycles=2, max_cycles=10)
    result = _run(tmp_path, spec, another)
    assert asked == [2, 3, 4]  # asked after the 2 required cycles, yes twice, then no
    assert result.cycles == 4
    assert [name for name, _ in fakes.visited[:4]] == [k.name for k in visit_order(_KINDS, 0)]
    assert [name for name, _ in fakes.visited[4:8]] == [k.name for k in visit_order(_KINDS, 1)]
    assert len({prefix for _, prefix in fakes.visited}) == 16  # every visit's rooms named apart
    assert sorted(fakes.stopped) == sorted(fakes.started) == sorted(k.name for k in _KINDS)


def test_the_cycles_stop_at_their_maximum_whatever_is_still_undecided(
    fakes: _Fakes, tmp_path: Path
) -> None:
    spec = VisitSpec(QUICK.visits.plan, cycles=1, max_cycles=3)
    result = _run(tmp_path, spec, lambda _visits, _seconds: True)
    assert result.cycles == 3
    assert len(fakes.visited) == 12


def test_the_latency_runs_pool_the_whole_workload_and_the_visits(
    fakes: _Fakes, tmp_path: Path
) -> None:
    spec = VisitSpec(QUICK.visits.plan, cycles=2, max_cycles=2)
    result = _run(tmp_path, spec, lambda _visits, _seconds: False)
    runs = result.latency_runs()
    assert set(runs) == {k.name for k in _KINDS}
    for kind in _KINDS:
        whole, *visits = runs[kind.name]
        assert [t.room for t in whole.single] == [f"{kind.name}-single"]
        assert len(visits) == 2
        assert all(len(v.loaded) == 1 for v in visits)
        before, after = result.main_rss[kind.name]
        assert after > before  # read before the first visit and after the last


def test_a_worker_that_fails_to_start_stops_those_already_started(
    fakes: _Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def start(kind: Any, *args: Any, **kwargs: Any) -> Any:
        if kind is OURS_COLLECTOR_DOWN:
            raise RuntimeError("port taken")
        return fakes.start_worker(kind, *args, **kwargs)

    monkeypatch.setattr(visits_module, "start_worker", start)
    with pytest.raises(RuntimeError, match="port taken"):
        _run(tmp_path, VisitSpec(QUICK.visits.plan, 1, 1), lambda _v, _s: False)
    assert fakes.stopped == ["bare", "ours"]
    assert fakes.visited == []


def test_without_a_whole_workload_each_worker_is_warmed_and_only_visited(
    fakes: _Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed: list[str] = []

    def serve_wave(worker: Any, kind: Any, _access: Any, spec: Any, prefix: str) -> list[Any]:
        warmed.append(prefix)
        assert spec.rooms == 1
        return []

    monkeypatch.setattr(visits_module, "serve_wave", serve_wave)
    kinds = (OURS, OURS_COLLECTOR_DOWN)
    spec = VisitSpec(QUICK.visits.plan, cycles=2, max_cycles=2)
    result = run_visits(
        kinds, _targets(tmp_path), None, spec, lambda _line: None, another_cycle=lambda *_: False
    )
    assert warmed == ["ours-warmup", "ours_collector_down-warmup"]
    assert result.whole == {}
    runs = result.latency_runs()
    assert list(runs) == ["ours", "ours_collector_down"]
    assert all(len(r) == 2 and all(len(v.loaded) == 1 for v in r) for r in runs.values())


def test_another_cycle_runs_while_a_verdict_is_undecided_and_the_budget_holds_one() -> None:
    said: list[str] = []
    undecided: dict[str, Any] = {"collector_down": "INCONCLUSIVE", "dispatch": "PASS"}
    another = while_undecided(
        lambda _visits: undecided,
        started=time.monotonic(),
        budget=100.0,
        max_cycles=3,
        say=said.append,
    )
    visits = Visits(visits={"ours": [WorkerRun("ours")]})
    assert another(visits, 60.0)  # 0 s gone, a 60 s cycle ends within 100 s
    assert not another(visits, 120.0)  # one as long would not
    assert said[0] == "after 1 cycle(s) inconclusive: collector_down; another cycle"
    undecided["collector_down"] = "PASS"
    assert not another(visits, 1.0)
