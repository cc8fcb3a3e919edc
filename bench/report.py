"""The bench's markdown table (``bench/results/latest.md``), generated from the JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BEGIN", "END", "embed", "embed_between", "render_markdown"]

_DASH = "—"
# where the README holds the latest figures, which ``embed`` replaces
BEGIN = "<!-- bench results: begin -->"
END = "<!-- bench results: end -->"


def _ms(value: float | None) -> str:
    return _DASH if value is None else f"{value * 1000:.0f}"


def _percentiles(summary: Mapping[str, Any]) -> str:
    return " / ".join(_ms(summary[q]) for q in ("p50", "p95", "p99"))


def _ratios(ratios: Mapping[str, Any]) -> str:
    return " / ".join(_DASH if ratios[q] is None else f"{ratios[q]:.2f}" for q in ratios)


def _num(value: float | None, digits: int = 3) -> str:
    return _DASH if value is None else f"{value:.{digits}f}"


def _spread(figure: Mapping[str, Any], digits: int = 3) -> str:
    if figure["median"] is None:
        return _DASH
    low, high = _num(figure["min"], digits), _num(figure["max"], digits)
    if low == high:  # one run
        return _num(figure["median"], digits)
    return f"{_num(figure['median'], digits)} ({low} to {high})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ratio(a: float | None, b: float | None) -> float | None:
    return b / a if a and b is not None else None


def _scenarios(results: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    plan = results["method"]["plan"]
    n, spacing = plan["concurrent_rooms"], plan["ramp_spacing"]
    return (
        ("single", "1 room at a time"),
        ("loaded", f"at {n} concurrent rooms"),
        ("ramp", f"ramp to {n} rooms (one every {spacing:g} s)"),
        ("burst", f"{n} rooms created at once"),
    )


def _latency_rows(results: Mapping[str, Any], other: str, base: str) -> list[str]:
    points = (("entrypoint", "entrypoint started"), ("joined", "room connected"))
    rows = []
    for scenario, label in _scenarios(results):
        figures = results["dispatch"][scenario]
        for point, what in points:
            a, b = figures[base][point], figures[other][point]
            ratios = {q: _ratio(a[q], b[q]) for q in ("p50", "p95", "p99")}
            failed = figures[base]["failed_rooms"] + figures[other]["failed_rooms"]
            note = f" ({failed} rooms failed)" if failed and point == "joined" else ""
            rows.append(
                _row(
                    [
                        f"Dispatch, {label}: room created → {what}, p50 / p95 / p99 (ms){note}",
                        _percentiles(a),
                        _percentiles(b),
                        _ratios(ratios),
                    ]
                )
            )
    return rows


_NET = "net_cpu_s_per_job"


def _pair_cells(pairs: Mapping[str, Any], num: str, den: str, key: str, digits: int) -> list[str]:
    ci = pairs["ci95"].get(f"{num}/{den}", {}).get(key)
    ratio = f"{ci['value']:.3f} [{ci['ci95'][0]:.3f}, {ci['ci95'][1]:.3f}]" if ci else _DASH
    return [_num(pairs[den][key]["mean"], digits), _num(pairs[num][key]["mean"], digits), ratio]


def _pair_rows(results: Mapping[str, Any]) -> list[str]:
    """CPU per job from the simultaneous pairs (what the CPU targets judge), when present."""
    pairs = results.get("cpu_pairs")
    if not pairs or "bare" not in pairs:
        return []
    n = pairs["pairs"]
    dropped = f", {pairs['failed_pairs']} dropped" if pairs["failed_pairs"] else ""
    rows = [
        _row([label, *_pair_cells(pairs, "ours", "bare", key, digits)])
        for label, key, digits in (
            (f"CPU per job beyond idle, simultaneous pairs (s; mean of {n}{dropped})", _NET, 3),
            ("… all in, idle time included (s)", "cpu_s_per_job", 3),
            ("… of it in the main process, all in (s per job)", "main_cpu_s_per_job", 4),
        )
    ]
    if "bare_native_vad" in pairs:
        label = "… the telemetry alone: against the bare SDK with the worker's VAD (s)"
        rows.append(_row([label, *_pair_cells(pairs, "ours", "bare_native_vad", _NET, 3)]))
    return rows


_COSTS = (
    (
        "CPU per job beyond idle, worker + job processes, the whole workload once (s)",
        "net_cpu_s_per_job",
        3,
    ),
    ("CPU per job all in, idle time included (s)", "cpu_s_per_job", 3),
    ("… of it in the main process (s per job)", "main_cpu_s_per_job", 4),
    ("Idle CPU of the worker's process tree (cores)", "idle_cores", 3),
    ("Main process RSS growth over the workload (MiB)", "main_rss_growth_mib", 1),
)


def _cost_rows(costs: Mapping[str, Any], other: str, base: str) -> list[str]:
    a, b = costs[base], costs[other]
    out = []
    for label, key, digits in _COSTS:
        ratio = _ratio(a[key]["median"], b[key]["median"])
        out.append(_row([label, _spread(a[key], digits), _spread(b[key], digits), _num(ratio, 2)]))
    for phase, figure in a["cpu_s_per_job_by_phase"].items():
        mine = b["cpu_s_per_job_by_phase"].get(phase)
        if mine is None:
            continue
        ratio = _ratio(figure["median"], mine["median"])
        label = f"… CPU per job all in, {phase} phase (s)"
        out.append(_row([label, _spread(figure), _spread(mine), _num(ratio, 2)]))
    ra, rb = a["job_peak_rss_mib"], b["job_peak_rss_mib"]
    rss = f"{_num(_ratio(ra['median'], rb['median']), 2)}"
    out.append(
        _row(
            [
                "Peak RSS per job process (MiB, median; max)",
                f"{ra['median']:.0f}; {_num(ra['max'], 0)}",
                f"{rb['median']:.0f}; {_num(rb['max'], 0)}",
                rss,
            ]
        )
    )
    return out


def _scrape_cell(sample: Mapping[str, Any]) -> str:
    return f"{sample['median_ms']:.1f} ms; {sample['bytes'] / 1000:.1f} kB; {sample['files']} files"


def _instrumentation_rows(results: Mapping[str, Any]) -> list[str]:
    micro = results["instrumentation"]
    rows = []
    for key, label in (
        ("full", "with its log line"),
        ("without_log_lines", "without the log line"),
    ):
        figure = micro[key]["all"]
        cell = f"{figure['median_us']:.1f} / {figure['p99_us']:.0f}"
        rows.append(
            _row(
                [
                    f"Handlers per participant/track event, {label} (µs, median / p99)",
                    "0 (none)",
                    cell,
                    _DASH,
                ]
            )
        )
    return rows


def _scrape_rows(results: Mapping[str, Any]) -> list[str]:
    synthetic = results["scrape"]["synthetic"]
    compacted, uncompacted = synthetic["compacted"], synthetic["uncompacted"]
    growth = compacted["1000"]["median_ms"] / compacted["10"]["median_ms"]
    cells = [
        ("/metrics after 10 jobs (median; body; files)", compacted["10"], _DASH),
        ("/metrics after 1,000 jobs", compacted["1000"], f"{growth:.2f} x after 10"),
        ("/metrics after 1,000 jobs without compaction", uncompacted["1000"], _DASH),
    ]
    real = [s for s in results["scrape"]["real"] if s["kind"] == "ours"]
    if real:
        last = max(real, key=lambda s: s["jobs"])
        cells.append((f"/metrics of the real worker after {last['jobs']} real jobs", last, _DASH))
    return [_row([label, _DASH, _scrape_cell(sample), note]) for label, sample, note in cells]


def _capacity_row(results: Mapping[str, Any]) -> str:
    capacity = results["capacity"]
    a, b = capacity["bare"], capacity["ours"]

    def cell(entry: Mapping[str, Any]) -> str:
        if entry.get("stalled"):
            return f"{entry['capacity']} (its jobs did not end after a larger try)"
        return f"{entry['capacity']}" + (
            "" if entry["converged"] else f" (≤ {entry['upper_bound']})"
        )

    ratio = b["capacity"] / a["capacity"] if a["capacity"] else None
    return _row(
        [
            "Capacity: concurrent rooms before dispatch p95 passes 1 s",
            cell(a),
            cell(b),
            _num(ratio, 2),
        ]
    )


def _table(header: Sequence[str], rows: Sequence[str]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *rows]


def _collector_rows(results: Mapping[str, Any]) -> list[str]:
    rows = _latency_rows(results, "ours_collector_down", "ours")
    rows += _cost_rows(results["cost_per_job"], "ours_collector_down", "ours")
    queue = results["collector_down"]["queue"]
    held = (
        f"{queue['bytes_after_1x_queue'] / 2**20:.2f} / {queue['bytes_after_3x_queue'] / 2**20:.2f}"
    )
    label = "Span queue, collector unreachable: memory held by 1x / 3x its size of spans (MiB)"
    rows.append(_row([label, _DASH, held, _DASH]))
    return rows


def _hanging_rows(results: Mapping[str, Any]) -> list[str]:
    rows = _latency_rows(results, "ours_collector_hanging", "ours")
    return rows + _cost_rows(results["cost_per_job"], "ours_collector_hanging", "ours")


def _target_value(target: Mapping[str, Any]) -> str:
    """The value, with its 95 % interval and sample counts where it has them."""
    value = _num(target["value"], 3)
    if "ci95" not in target:
        return value
    low, high = target["ci95"]
    n = target["n"]
    return f"{value} [{low:.3f}, {high:.3f}] (n={n['ours']}/{n['bare']})"


def _targets(results: Mapping[str, Any]) -> list[str]:
    rows = [
        _row([t["name"], _target_value(t), f"{t['op']} {t['limit']:g}", f"**{t['verdict']}**"])
        for t in results["targets"]
    ]
    return _table(["Target", "Value", "Limit", "Verdict"], rows)


def _header(results: Mapping[str, Any]) -> list[str]:
    m = results["machine"]
    return [
        "<!-- generated by `python -m bench`; do not edit by hand -->",
        f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gib']} GiB, {m['os']}; "
        f"Python {m['python']}, livekit-agents {m['livekit_agents']}. "
        f"Mode `{results['mode']}`, {_visits_said(results)}"
        f"{_pairs_said(results)}, {results['generated_at'][:10]}, "
        f"{results['duration_s'] / 60:.1f} min.",
        _neighbours(results),
        "",
    ]


def _visits_said(results: Mapping[str, Any]) -> str:
    plan = results["method"]["visits"]["plan"]
    return (
        f"every worker's whole workload once, then {results['visits']['cycles']} cycle(s) of "
        f"interleaved visits at {plan['concurrent_rooms']} rooms ({plan['probe_rooms']} "
        "probes each)"
    )


def _pairs_said(results: Mapping[str, Any]) -> str:
    pairs = results.get("cpu_pairs")
    return f" and {pairs['pairs']} simultaneous pairs for CPU per job" if pairs else ""


def _neighbours(results: Mapping[str, Any]) -> str:
    shares = results["cost_per_job"]["bare"].get("neighbours_cores", {})
    parts = [
        f"{label} {shares[key]['median']:.2f} cores"
        for key, label in (
            ("load_generator", "the load generator"),
            ("livekit_server", "livekit-server"),
        )
        if key in shares and shares[key]["median"] is not None
    ]
    if not parts:
        return ""
    return "Sharing the same cores during the workload (median): " + ", ".join(parts) + "."


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole markdown document: ours vs bare, collector down (and hanging) vs up, the
    targets."""
    ours = _latency_rows(results, "ours", "bare") + _pair_rows(results)
    ours += _cost_rows(results["cost_per_job"], "ours", "bare")
    ours += _instrumentation_rows(results) + _scrape_rows(results) + [_capacity_row(results)]
    lines = _header(results)
    lines += _table(["Figure", "Bare SDK", "Ours", "Ours / bare"], ours)
    lines += ["", "Collector down (OTLP endpoint unreachable) vs up, our worker:", ""]
    lines += _table(
        ["Figure", "Collector up", "Collector down", "Down / up"], _collector_rows(results)
    )
    if "ours_collector_hanging" in results["cost_per_job"]:  # results before it lack it
        lines += ["", "Collector hanging (accepts connections, never answers) vs up:", ""]
        lines += _table(
            ["Figure", "Collector up", "Collector hanging", "Hanging / up"],
            _hanging_rows(results),
        )
    lines += ["", *_targets(results), ""]
    return "\n".join(lines)


def embed_between(markdown: str, document: str, begin: str, end: str) -> str:
    """``document`` with the text between its ``begin`` and ``end`` markers replaced.

    Raises:
        ValueError: the document lacks the markers, or has them out of order.
    """
    start, stop = document.find(begin), document.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"no {begin} ... {end} section")
    return document[: start + len(begin)] + "\n" + markdown.rstrip("\n") + "\n" + document[stop:]


def embed(markdown: str, document: str) -> str:
    """``document`` with the bench results section (``BEGIN`` … ``END``) replaced."""
    return embed_between(markdown, document, BEGIN, END)
