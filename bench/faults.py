"""``python -m bench.faults [--quick] [--budget-minutes N] [--out DIR]``: the collector-fault
latency targets, given the probe rooms they need.

``make bench`` judges collector down / up and hanging / up (dispatch p95 at 20 concurrent
rooms, each ≤ 1.05) from the interleaved visits it shares with ours / bare, in the time its
35-minute budget leaves them: about 120 probe rooms a worker, which leave a p95 ratio's
interval 10 to 15 % wide on either side on a two-core machine (bench/README.md). Here the
same visits serve the three workers alone (ours with its Collector up, down and hanging),
with no whole workload, pairs or capacity search before them, and twice the probes per
visit (the background rooms' ramp and the settling are paid once for 48 probes, not 24).
Cycles (a row of a Williams square each) go on while either verdict is inconclusive and
another fits in the budget, printed at the start.

Writes ``faults.json`` and ``faults.md`` to ``bench/results/`` (or ``--out``) and, for the
default directory, the README's fault figures. Loopback only.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.confidence import Verdict
from bench.config import FULL, QUICK
from bench.faults_report import embed_faults, render_faults
from bench.figures import cycle_interval, latency_figures, visits_record
from bench.machine import describe_machine
from bench.progress import Progress
from bench.published import RESULTS_DIR, write_results
from bench.servers import bench_servers, run_targets
from bench.session import run_session
from bench.targets import fault_targets, interval_verdicts
from bench.visits import Visits, VisitSpec, run_visits, while_undecided
from bench.workers import OURS, OURS_COLLECTOR_DOWN, OURS_COLLECTOR_HANGING

__all__ = ["FAULTS_FULL", "FAULTS_QUICK", "FaultsConfig", "run_faults"]

KINDS = (OURS, OURS_COLLECTOR_DOWN, OURS_COLLECTOR_HANGING)
_VERDICTS = ("collector_down", "collector_hanging")
# stopping three workers and writing the results after the last cycle
_WRAP_UP_SECONDS = 30.0


@dataclass(frozen=True)
class FaultsConfig:
    """The fault run's visits and time budget; every loop is bounded by these.

    Attributes:
        name: ``full`` or ``quick``.
        visits: the visits: ``make bench``'s workload with more probes per visit.
        time_budget: seconds the whole run may take (printed at its start).
    """

    name: str
    visits: VisitSpec
    time_budget: float


FAULTS_FULL = FaultsConfig(
    name="full",
    visits=VisitSpec(
        plan=dataclasses.replace(FULL.visits.plan, probe_rooms=48), cycles=4, max_cycles=40
    ),
    time_budget=60 * 60.0,
)

FAULTS_QUICK = FaultsConfig(
    name="quick",
    visits=VisitSpec(plan=QUICK.visits.plan, cycles=1, max_cycles=1),
    time_budget=5 * 60.0,
)


def _fault_verdicts(visits: Visits) -> dict[str, Verdict]:
    """The two fault targets' verdicts from the visits so far."""
    verdicts = interval_verdicts(latency_figures(visits.latency_runs()))
    return {name: verdicts[name] for name in _VERDICTS}


def run_faults(config: FaultsConfig, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The fault visits and their targets; the results as ``faults.json`` holds them."""
    started = time.monotonic()
    plan = config.visits.plan
    say(
        f"time budget {config.time_budget / 60:.0f} min: {config.visits.cycles} to "
        f"{config.visits.max_cycles} cycles of visits to {len(KINDS)} workers, "
        f"{plan.probe_rooms} probes each at {plan.concurrent_rooms} rooms (more cycles while "
        "a target's 95 % interval is inconclusive and the budget allows)"
    )
    method: dict[str, Any] = {
        "time_budget_s": config.time_budget,
        "confidence": (
            "95 % percentile bootstrap, 2000 resamples, over the probe rooms (which judges) "
            "and over the cycles (reported beside it)"
        ),
        "visits": {
            "plan": asdict(plan),
            "cycles": config.visits.cycles,
            "max_cycles": config.visits.max_cycles,
        },
    }
    results: dict[str, Any] = {"schema": 1, "mode": config.name, "machine": describe_machine()}

    another_cycle = while_undecided(
        _fault_verdicts,
        started=started,
        budget=config.time_budget - _WRAP_UP_SECONDS,
        max_cycles=config.visits.max_cycles,
        say=say,
    )
    with bench_servers(work_dir, method, say) as servers:
        targets = run_targets(KINDS, servers, work_dir)
        visits = run_visits(KINDS, targets, None, config.visits, say, another_cycle=another_cycle)
    dispatch = latency_figures(visits.latency_runs())
    results |= {
        "method": method,
        "dispatch": {"loaded": dispatch["loaded"], "ramp": dispatch["ramp"]},
        "visits": visits_record(visits),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
    }
    results["targets"] = fault_targets(dispatch["loaded"], plan.concurrent_rooms)
    for target, kind in zip(results["targets"], KINDS[1:], strict=True):
        by_cycle = cycle_interval(visits, kind.name, against=OURS.name)
        target["ci95_by_cycle"] = by_cycle.as_dict()["ci95"] if by_cycle else None
    return results


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--budget-minutes", type=float, default=None, help="the time budget")
    parser.add_argument("--out", type=Path, default=None, help="where faults.json/.md go")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the servers' and workers' logs"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the fault bench; returns the exit code (1 when the bench itself failed)."""
    args = _parse(argv)
    config = FAULTS_QUICK if args.quick else FAULTS_FULL
    if args.budget_minutes is not None:
        config = dataclasses.replace(config, time_budget=args.budget_minutes * 60)
    out: Path = args.out or (
        Path(tempfile.mkdtemp(prefix="lkw-bench-faults-quick-")) if args.quick else RESULTS_DIR
    )
    say = Progress()
    say(f"fault bench {config.name}: results to {out}")

    def body(work_dir: Path) -> dict[str, Any]:
        results = run_faults(config, work_dir, say)
        write_results(out, "faults", results, render_faults, embed_faults)
        say(f"wrote {out / 'faults.json'} and faults.md")
        return results

    return run_session(
        "fault bench",
        body,
        say,
        keep_logs=args.keep_logs,
        keep_on_fail=not args.quick,
        prefix="lkw-bench-faults-",
    )


if __name__ == "__main__":
    raise SystemExit(main())
