"""The fleet bench's markdown (``bench/results/fleet.md``), and its place in the README."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.report import embed_between

__all__ = ["BEGIN", "END", "embed_fleet", "render_fleet"]

BEGIN = "<!-- fleet bench figures: start -->"
END = "<!-- fleet bench figures: end -->"
_DASH = "—"


def _ms(value: float | None) -> str:
    return _DASH if value is None else f"{value * 1000:.0f}"


def _latency(summary: Mapping[str, Any]) -> str:
    return f"{_ms(summary['p50'])} / {_ms(summary['p95'])} / {_ms(summary['max'])}"


def _by_worker(spread: Mapping[str, int]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in sorted(spread.items()) if name)


def render_fleet(results: Mapping[str, Any]) -> str:
    """The side-by-side table, the method in one paragraph and the machine's caveat."""
    method, machine = results["method"], results["machine"]
    single, fleet = results["setups"]["single"], results["setups"]["fleet"]
    rows = [
        ("Rooms one at a time: dispatch p50 / p95 / max (ms)", _latency, "one_at_a_time"),
        ("Rooms kept live, ramp to capacity: p50 / p95 / max (ms)", _latency, "ramp"),
    ]
    lines = [
        "| | 1 worker, 1 node | 3 workers, 2 nodes |",
        "|---|---|---|",
    ]
    for title, fmt, key in rows:
        lines.append(f"| {title} | {fmt(single[key])} | {fmt(fleet[key])} |")
    lines.append(
        f"| Capacity: rooms served before one got no agent | {single['capacity_rooms']} "
        f"| {fleet['capacity_rooms']} |"
    )
    lines.append(
        f"| ... by worker | {_by_worker(single['capacity_by_worker'])} "
        f"| {_by_worker(fleet['capacity_by_worker'])} |"
    )
    full_at = int(method["max_jobs"] * method["load_threshold"]) + 1
    lines += [
        "",
        f"`python -m bench.fleet`, {results['duration_s'] / 60:.1f} min. Production mode, "
        f"`WORKER_MAX_JOBS={method['max_jobs']}` (a worker reports itself full at load "
        f"{method['load_threshold']}, its {full_at}th job), {method['idle_processes']} idle "
        f"process; one silent participant per room; latency from the API call that creates "
        f"the room and dispatches the agent to the agent's join as the server records it "
        f"({method['sequential_rooms']} rooms one at a time; then rooms kept live until one "
        f"got no agent within {method['agent_timeout_s']:g} s, at most "
        f"{method['ramp_limit']}). Both clusters keep their state in Redis.",
        "",
        f"Caveat: one machine, {machine['cores']} cores ({machine['cpu_model']}), shared by "
        "every server, worker and participant. Three workers here share the same two cores "
        "as one: the capacity row measures dispatch (LiveKit using every worker's slots), "
        "not CPU; on separate machines each worker brings its own cores and the rooms per "
        "worker at the latency target come from the single-worker capacity in Performance.",
        "",
    ]
    return "\n".join(lines)


def embed_fleet(markdown: str, document: str) -> str:
    """``document`` with the text between its fleet markers replaced by ``markdown``."""
    return embed_between(markdown, document, BEGIN, END)
