"""CPU affinity of the bench: who runs where, and pinning a live process tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from bench import affinity
from bench.affinity import Pinning, available_cpus, pin_bench, pin_tree, plan_pinning


def test_one_cpu_pins_nothing() -> None:
    assert plan_pinning({0}) is None


def test_two_cpus_give_the_worker_one_and_its_neighbours_the_other() -> None:
    assert plan_pinning({0, 1}) == Pinning(frozenset({1}), frozenset({0}), frozenset({0}))


def test_more_cpus_give_each_neighbour_its_own_and_the_worker_the_rest() -> None:
    pinning = plan_pinning({0, 1, 2, 3, 5})
    assert pinning == Pinning(frozenset({2, 3, 5}), frozenset({0}), frozenset({1}))
    assert pinning.describe() == (
        "worker on CPU 2,3,5; load generator on CPU 0; livekit server on CPU 1"
    )
    assert pinning.as_dict()["worker"] == [2, 3, 5]


_TREE = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
sys.stdin.readline()  # pinned by now
late = subprocess.run(
    [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
    capture_output=True,
    text=True,
)
print(sorted(os.sched_getaffinity(child.pid)), late.stdout.strip(), flush=True)
child.kill()
"""


def test_a_process_tree_is_pinned_and_its_later_children_inherit() -> None:
    cpu = min(available_cpus())
    script = _TREE
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first child is up
        assert pin_tree(parent.pid, {cpu}) == 2
        out, _ = parent.communicate("go\n", timeout=30)
    finally:
        parent.kill()
    assert out.split() == [f"[{cpu}]", f"[{cpu}]"]
    assert os.sched_getaffinity(0) == available_cpus()  # this process was left alone


def test_a_process_that_is_gone_is_skipped() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert pin_tree(process.pid, available_cpus()) == 0


def test_the_collector_is_pinned_with_livekit_server_not_with_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinned: dict[int, frozenset[int]] = {}
    monkeypatch.setattr(affinity, "available_cpus", lambda: frozenset({0, 1}))
    monkeypatch.setattr(affinity, "pin_tree", pinned.setdefault)
    monkeypatch.setattr(affinity.os, "sched_setaffinity", pinned.setdefault)
    said: list[str] = []
    pinning = pin_bench(101, said.append, collector_pid=102)
    assert pinning is not None
    assert pinned == {101: frozenset({0}), 102: frozenset({0}), 0: frozenset({0})}
    assert pinning.worker == frozenset({1})
    assert said == [
        "CPU affinity: worker on CPU 1; load generator on CPU 0; livekit server on CPU 0"
        " (and the Collector)"
    ]
