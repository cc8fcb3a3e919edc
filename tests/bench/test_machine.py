"""The machine-wide counters a visit records (``bench.machine.machine_counters``)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.machine import machine_counters


def test_major_faults_and_stolen_cpu_are_read_from_the_kernel_s_files(tmp_path: Path) -> None:
    vmstat, stat = tmp_path / "vmstat", tmp_path / "stat"
    vmstat.write_text("pgfault 900\npgmajfault 42\npgsteal_kswapd 0\n")
    ticks = os.sysconf("SC_CLK_TCK")
    stat.write_text(f"cpu  10 0 20 300 4 0 5 {3 * ticks} 0 0\ncpu0 1 0 2 3 0 0 0 0 0 0\n")
    assert machine_counters(vmstat, stat) == {"major_faults": 42.0, "steal_s": 3.0}


def test_a_machine_without_them_gives_no_counters(tmp_path: Path) -> None:
    assert machine_counters(tmp_path / "missing", tmp_path / "missing") == {}


def test_this_machine_s_counters_only_grow() -> None:
    first = machine_counters()
    assert set(first) == {"major_faults", "steal_s"}
    second = machine_counters()
    assert all(second[name] >= first[name] for name in first)
