"""``python -m bench.profile [--rooms N] [--py-spy] [VARIANT ...]``: where a job's CPU goes.

Runs the real livekit-server and a Collector on loopback, then each variant of the worker in
turn, serving ``N`` rooms one at a time (each with one participant publishing a tone), and
prints the CPU seconds per job of the worker's whole process tree and of its main process.
One room at a time leaves cores free, so the figures are not blurred by waiting for a CPU
as they are at 20 concurrent rooms. With ``--py-spy`` each variant then serves as many
rooms again under ``py-spy record --subprocesses --gil`` (sampling slows what it reads, so the
CPU figures come from the rooms before) and the report adds where the samples went: by
package for the main process and for the job processes (``bench/stacks.py``), and the
project's busiest functions.

Variants: ``bare`` (the SDK alone, ``bench/baseline.py``), ``ours`` (the default:
spans over OTLP http/protobuf), ``ours-grpc`` (OTLP over gRPC), ``ours-no-export`` (spans
made and dropped: no exporter). The findings are in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.config import FULL
from bench.dispatch import serve_wave
from bench.proctree import cpu_snapshot
from bench.stacks import PACKAGES, StackProfile, parse_raw
from bench.workers import BARE, BARE_NATIVE_VAD, OURS, WorkerKind, start_worker, stop_worker
from devtools.harness import LiveKitServer, OtelCollector, WorkerProcess
from devtools.synthetic import ServerAccess

__all__ = ["VARIANTS", "main"]

VARIANTS: dict[str, WorkerKind] = {
    "bare": BARE,
    "bare-native-vad": BARE_NATIVE_VAD,
    "ours": OURS,
    "ours-grpc": dataclasses.replace(OURS, name="ours_grpc", protocol="grpc"),
    "ours-no-export": dataclasses.replace(OURS, name="ours_no_export", otlp=False),
}
_SAMPLE_RATE = 200  # per second, per process
_SPY_STOP_TIMEOUT = 60.0
_TOP = 4  # project functions listed per package and role


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=", ".join(VARIANTS))
    parser.add_argument("--rooms", type=int, default=12, help="rooms per variant (1..200)")
    parser.add_argument("--py-spy", action="store_true", help="sample with py-spy too")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    args.variants = args.variants or [*VARIANTS]
    if not 1 <= args.rooms <= 200:
        parser.error("--rooms must be between 1 and 200")
    return args


def _start_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    # --gil: only the thread holding the GIL, i.e. running Python; without it py-spy also
    # counts threads in timed waits (the span processor's) as busy
    command = [spy, "record", "--pid", str(pid), "--subprocesses", "--full-filenames", "--gil"]
    command += ["--rate", str(_SAMPLE_RATE), "--format", "raw", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_spy(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(_SPY_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def _report_profile(profile: StackProfile) -> None:
    for role in ("main", "job"):
        if not profile.samples[role]:
            continue
        shares = ", ".join(
            f"{package} {profile.share(role, package):.0%}"
            for package in PACKAGES
            if profile.share(role, package) >= 0.005
        )
        print(f"    {role} process samples {profile.samples[role]}: {shares}")
        for package in ("project worker", "project telemetry", "opentelemetry"):
            for name, share in profile.top_functions(role, package, _TOP):
                print(f"      {share:6.1%}  {name}")


def _serve_rooms(
    worker: WorkerProcess, kind: WorkerKind, access: ServerAccess, rooms: int, prefix: str
) -> None:
    single = FULL.plan.single()
    for index in range(rooms):
        serve_wave(worker, kind, access, single, f"{prefix}-{index}")


def _sampled(
    worker: WorkerProcess, kind: WorkerKind, access: ServerAccess, rooms: int, out: Path
) -> StackProfile:
    """Serve ``rooms`` rooms under py-spy; where the samples went."""
    assert worker.process is not None
    spy = _start_spy(worker.process.pid, out)
    try:
        _serve_rooms(worker, kind, access, rooms, f"{kind.agent_name}-sampled")
    finally:
        _stop_spy(spy)
    with out.open() as raw:
        return parse_raw(raw)


def _profile_variant(
    name: str, access: ServerAccess, otlp: str, work_dir: Path, args: argparse.Namespace
) -> None:
    kind = VARIANTS[name]
    worker = start_worker(kind, access, work_dir / name, otlp)
    try:
        # the first job warms what every later one reuses
        _serve_rooms(worker, kind, access, 1, f"{kind.agent_name}-warm")
        assert worker.process is not None
        pid = worker.process.pid
        before, started = cpu_snapshot(pid), time.monotonic()
        _serve_rooms(worker, kind, access, args.rooms, kind.agent_name)
        after, elapsed = cpu_snapshot(pid), time.monotonic() - started
        total = (after.total - before.total) / args.rooms
        main_cpu = (after.main - before.main) / args.rooms
        print(f"  {name}: {args.rooms} jobs in {elapsed:.0f} s; CPU per job {total:.3f} s", end="")
        print(f" (main process {main_cpu:.4f} s)", flush=True)
        # sampling slows every process it reads, so it gets rooms of its own
        if args.py_spy:
            _report_profile(_sampled(worker, kind, access, args.rooms, work_dir / f"{name}.txt"))
    finally:
        stop_worker(worker)


def main(argv: list[str] | None = None) -> int:
    """Profile each variant in turn; returns the exit code."""
    args = _parse(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="lkw-profile-"))
    try:
        with (
            LiveKitServer(work_dir / "livekit") as livekit,
            OtelCollector(work_dir / "collector") as collector,
        ):
            access = ServerAccess(livekit.url, livekit.api_key, livekit.api_secret)
            print(f"{args.rooms} rooms, one at a time, per variant", flush=True)
            for name in args.variants:
                kind = VARIANTS[name]
                otlp = collector.otlp_http_endpoint
                if kind.protocol == "grpc":
                    otlp = collector.otlp_grpc_endpoint
                _profile_variant(name, access, otlp, work_dir, args)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
