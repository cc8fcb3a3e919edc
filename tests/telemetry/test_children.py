"""The child-process count behind the SDK's ``lk_agents_child_process_count``."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from livekit.agents import utils
from livekit.agents import worker as sdk_worker
from livekit.agents.telemetry import metrics as sdk_metrics

from telemetry import children
from telemetry.children import ChildCount, count_descendants, install_child_count
from telemetry.seams.lk_agents import CHILD_COUNT_UPDATER

_TREE_TIMEOUT = 10.0
# a child that starts a grandchild; both sleep until killed
_PARENT = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "time.sleep(60)\n"
)


def _fake_proc(root: Path, parents: dict[int, int], names: dict[int, str]) -> Path:
    for pid, ppid in parents.items():
        (root / str(pid)).mkdir()
        comm = names.get(pid, "python")
        (root / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1\n")
    (root / "self").mkdir()  # not a pid: skipped
    (root / "99").mkdir()  # exited between the listing and the read: no stat
    return root


def test_descendants_are_counted_through_every_generation(tmp_path: Path) -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1}
    proc = _fake_proc(tmp_path, parents, names={11: "a) (b c", 12: "kworker/0:1 x"})

    assert count_descendants(10, proc=proc) == 3
    assert count_descendants(1, proc=proc) == 5
    assert count_descendants(13, proc=proc) == 0
    assert count_descendants(404, proc=proc) == 0


def test_a_loop_in_the_parent_links_ends(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, {5: 6, 6: 5}, names={})

    assert count_descendants(5, proc=proc) == 2


@pytest.fixture
def tree() -> Iterator[psutil.Process]:
    child = psutil.Popen([sys.executable, "-c", _PARENT])
    family = [child]
    try:
        deadline = time.monotonic() + _TREE_TIMEOUT
        while len(child.children()) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        family += child.children()  # listed now: a test may stub psutil's listing
        yield child
    finally:
        for process in family:
            process.kill()
        child.wait(_TREE_TIMEOUT)


def test_the_count_of_a_real_tree_is_psutils(tree: psutil.Process) -> None:
    assert count_descendants(tree.pid) == len(tree.children(recursive=True)) == 1
    assert count_descendants() == len(psutil.Process().children(recursive=True))


@pytest.fixture
def sdk_updater(monkeypatch: pytest.MonkeyPatch) -> None:
    # restored after the test, whatever install_child_count put there
    monkeypatch.setattr(sdk_metrics, CHILD_COUNT_UPDATER, getattr(sdk_metrics, CHILD_COUNT_UPDATER))


def _gauge() -> float:
    value: float = sdk_metrics.CHILD_PROC_GAUGE.labels(nodename=utils.nodename())._value.get()
    return value


@pytest.mark.usefixtures("sdk_updater")
def test_the_sdk_updater_counts_without_psutils_scan_of_every_process(
    tree: psutil.Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scan(*_args: object, **_kwargs: object) -> list[psutil.Process]:
        raise AssertionError("psutil read the parent of every process on the machine")

    sdk_metrics.CHILD_PROC_GAUGE.labels(nodename=utils.nodename()).set(-1)
    monkeypatch.setattr(psutil.Process, "children", scan)

    assert install_child_count() is True
    getattr(sdk_metrics, CHILD_COUNT_UPDATER)()

    assert _gauge() == count_descendants() >= 2


@pytest.mark.usefixtures("sdk_updater")
def test_an_sdk_without_the_updater_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sdk_metrics, CHILD_COUNT_UPDATER)

    assert install_child_count() is False
    assert not hasattr(sdk_metrics, CHILD_COUNT_UPDATER)


def test_the_sdk_still_looks_the_updater_up_at_every_tick() -> None:
    # the replacement works only while the SDK's load loop reads the module attribute
    assert f"telemetry.metrics.{CHILD_COUNT_UPDATER}" in inspect.getsource(sdk_worker)


def test_without_proc_the_count_falls_back_to_psutil(
    tree: psutil.Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_proc(*_args: object, **_kwargs: object) -> int:
        raise FileNotFoundError("/proc")

    sdk_metrics.CHILD_PROC_GAUGE.labels(nodename=utils.nodename()).set(-1)
    monkeypatch.setattr(children, "count_descendants", no_proc)

    children.update_child_count()

    assert _gauge() == len(psutil.Process().children(recursive=True)) >= 2


def test_a_missing_proc_is_an_error_for_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        count_descendants(proc=tmp_path / "missing")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_tree_is_recounted_only_after_a_change_or_when_the_count_is_old() -> None:
    counts: list[float] = []
    clock = _Clock()
    child_count = ChildCount(lambda: counts.append(clock.now), rescan_seconds=10, clock=clock)

    child_count.tick()  # the first tick counts
    for _ in range(20):  # twice a second for 10 s, nothing changed
        clock.now += 0.5
        child_count.tick()
    assert counts == [100.0, 110.0]  # and once more when the count was 10 s old

    clock.now += 0.5
    child_count.changed("a process")
    child_count.tick()
    child_count.tick()
    assert counts == [100.0, 110.0, 110.5]  # the change, counted once


@pytest.mark.usefixtures("sdk_updater")
def test_the_sdk_ticks_the_change_driven_count(tree: psutil.Process) -> None:
    sdk_metrics.CHILD_PROC_GAUGE.labels(nodename=utils.nodename()).set(-1)
    assert install_child_count(ChildCount().tick) is True
    getattr(sdk_metrics, CHILD_COUNT_UPDATER)()
    assert _gauge() == count_descendants() >= 2
