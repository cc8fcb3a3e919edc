"""The fleet bench's table and its place in the README, from a results dict of known values."""

from __future__ import annotations

from typing import Any

import pytest

from bench.fleet_report import BEGIN, END, embed_fleet, render_fleet
from bench.stats import summarize


def _setup(latencies: list[float], capacity: dict[str, int]) -> dict[str, Any]:
    return {
        "one_at_a_time": summarize(latencies),
        "ramp": summarize([x * 2 for x in latencies]),
        "capacity_rooms": sum(capacity.values()),
        "capacity_by_worker": capacity,
    }


RESULTS = {
    "machine": {"cores": 2, "cpu_model": "Test CPU"},
    "method": {
        "max_jobs": 8,
        "load_threshold": 0.7,
        "idle_processes": 1,
        "sequential_rooms": 10,
        "ramp_limit": 30,
        "agent_timeout_s": 10.0,
    },
    "setups": {
        "single": _setup([0.5, 0.6, 0.7], {"w0": 6}),
        "fleet": _setup([0.8, 0.9, 1.0], {"w0": 6, "w1": 6, "w2": 5}),
    },
    "duration_s": 240.0,
}


def test_the_table_puts_both_setups_side_by_side() -> None:
    markdown = render_fleet(RESULTS)
    assert "| | 1 worker, 1 node | 3 workers, 2 nodes |" in markdown
    assert "| Rooms one at a time: dispatch p50 / p95 / max (ms) | 600 / 690 / 700 | " in markdown
    assert "| 900 / 990 / 1000 |" in markdown
    assert "| Capacity: rooms served before one got no agent | 6 | 17 |" in markdown
    assert "| ... by worker | w0: 6 | w0: 6, w1: 6, w2: 5 |" in markdown
    assert "its 6th job" in markdown
    assert "2 cores (Test CPU)" in markdown


def test_embedding_replaces_only_the_fleet_section() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert embed_fleet("new\n", document) == f"before\n{BEGIN}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="fleet bench figures"):
        embed_fleet("new", "no markers")
