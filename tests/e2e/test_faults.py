"""Faults on the real bench: the Collector or livekit-server gone, signals, crashing jobs.

Every test runs the worker as a subprocess against a real livekit-server (and, where spans
matter, a real OpenTelemetry Collector), makes something fail, and reads the outcome from
what an operator would see: the worker's log, ``/metrics``, the health endpoint, the
Collector's spans, the exit code and the process table.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from devtools.harness import (
    LiveKitServer,
    LiveRooms,
    OtelCollector,
    RssSampler,
    Span,
    WorkerProcess,
    free_port,
    histogram_max,
    metric_problems,
    monotonic_samples,
    samples,
    value,
    wait_until,
    went_backwards,
)
from devtools.harness.sdk_logs import DRAIN_TIMED_OUT, DRAINING_WORKER, SHUTTING_DOWN_WORKER
from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch
from telemetry.log_messages import SPAN_EXPORT_FAILING, SPAN_EXPORT_RECOVERED
from worker.log_messages import (
    CONNECTED_TO_ROOM,
    HANDLER_FAILED,
    JOB_PROCESS_EXITED,
    JOB_RECEIVED,
    JOB_SHUTTING_DOWN,
    REGISTERED_AGAIN,
)

from .conftest import AGENT_NAME, room_name, session

MB = 1024 * 1024


def _otlp(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "AGENT_NAME": AGENT_NAME,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        **extra,
    }


def _dropped(metrics: str) -> float:
    """Spans counted lost, every reason together."""
    reasons = (
        "queue_full",
        "export_failed",
        "export_timeout",
        "shutdown",
        "handoff_failed",
        "relay_queue_full",
    )
    return sum(value(metrics, "agent_worker_spans_dropped_total", reason=r) for r in reasons)


def _conserved(metrics: str) -> bool:
    """Every span the job processes ended is exported or counted lost."""
    ended = value(metrics, "agent_worker_spans_ended_total")
    return ended > 0 and ended == value(metrics, "agent_worker_spans_exported_total") + _dropped(
        metrics
    )


def _health(worker: WorkerProcess) -> int:
    """The status code of the SDK's health answer; 0 when nothing answers."""
    try:
        return httpx.get(worker.health_url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _roots(collector: OtelCollector, rooms: set[str]) -> list[Span]:
    return [
        span
        for span in collector.read_spans()
        if span["name"] == "job_entrypoint" and span["attributes"].get("lk.pii.room_name") in rooms
    ]


def _wait_roots(collector: OtelCollector, rooms: set[str], timeout: float = 20) -> list[Span]:
    found: list[Span] = wait_until(
        lambda: (roots := _roots(collector, rooms)) and len(roots) >= len(rooms) and roots,
        timeout,
        what=f"job_entrypoint spans of {sorted(rooms)}",
    )
    return found


def _trace(collector: OtelCollector, root: Span) -> list[Span]:
    return [span for span in collector.read_spans() if span["trace_id"] == root["trace_id"]]


def _job_pids(worker: WorkerProcess, rooms: list[str]) -> set[int]:
    pids = set()
    for room in rooms:
        (line,) = worker.wait_for_line(rf"{JOB_RECEIVED}: {re.escape(room)} \|", timeout=30)
        pids.add(int(re.findall(r" pid=(\d+)", line)[0]))
    return pids


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _no_leaks(worker: WorkerProcess) -> None:
    # the multiprocessing forkserver notices its parent is gone a moment after it exits
    wait_until(lambda: not worker.leaked(), 15, what=f"worker processes gone: {worker.leaked()}")


async def _room_with_stayer(access: ServerAccess, room: str, people: int, stay: float) -> None:
    """``people`` participants wait for the agent, publish; all but one leave after a second,
    the last after ``stay``."""
    await create_dispatch(access, room, AGENT_NAME)
    participants = [SyntheticParticipant(access, room, f"p{i}") for i in range(people)]
    durations = [1.0] * (people - 1) + [stay]
    await asyncio.wait_for(
        asyncio.gather(
            *(p.run(d, wait_for_agent=45) for p, d in zip(participants, durations, strict=True))
        ),
        90,
    )


async def _rooms_at_once(access: ServerAccess, rooms: list[str], people: int, stay: float) -> None:
    await asyncio.gather(*(_room_with_stayer(access, room, people, stay) for room in rooms))


# ------------------------------------------------------------------------------ collector


@pytest.mark.timeout(180)
def test_collector_unreachable_for_the_whole_run(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    queue_size = 4
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env=_otlp(
            unreachable,
            # each export attempt gives up after 3 s; a stalled loop would show lags that long
            OTEL_EXPORTER_OTLP_TIMEOUT="3",
            # a small queue in the main process, which exports every job process's spans,
            # so the bound is reached and the drops can be seen
            SPAN_RELAY_QUEUE_SIZE=str(queue_size),
        ),
    )
    rooms = [room_name("nocollector") for _ in range(4)]
    people = 2
    with worker:
        assert worker.process is not None
        with RssSampler(worker.process.pid) as memory:
            started = time.monotonic()
            asyncio.run(_rooms_at_once(access, rooms, people, stay=6.0))
            served_in = time.monotonic() - started
            for room in rooms:
                worker.wait_for_line(
                    rf"{JOB_SHUTTING_DOWN} \(reason: room empty\) \| room={re.escape(room)} ",
                    timeout=30,
                )
            job_pids = _job_pids(worker, rooms)
            # every job process hands its spans to the main process and exits at once
            wait_until(lambda: not _alive(job_pids), 30, what="job processes exited")
            # the main process has tried (and failed) to export all it kept
            metrics = wait_until(
                lambda: _conserved(text := worker.scrape()) and text,
                30,
                what="every span exported or counted lost",
            )
        assert worker.stop(timeout=30) == 0

    # rooms were served, no job failed
    assert value(metrics, "agent_worker_jobs_accepted_total") == len(rooms)
    for reason in ("entrypoint_error", "handler_error", "process_exited"):
        assert value(metrics, "agent_worker_jobs_failed_total", reason=reason) == 0, reason
    joined = value(metrics, "agent_worker_participants_joined_total", kind="standard")
    assert joined == len(rooms) * people

    # the event loops kept running: no sample anywhere near an export timeout
    lags = {}
    for process in ("main", "job"):
        bound, count = histogram_max(
            metrics, "agent_worker_event_loop_lag_seconds", process=process
        )
        assert count > 0, process
        assert bound <= 1.0, (process, bound)
        lags[process] = bound

    # lost spans are counted: failed batches, and spans dropped from the main process's full
    # queue; the job processes handed every span over and lost none
    failures = value(metrics, "agent_worker_span_export_failures_total")
    dropped = _dropped(metrics)
    assert failures >= 1
    assert dropped >= failures  # every failed batch lost at least one span
    assert value(metrics, "agent_worker_spans_dropped_total", reason="relay_queue_full") > 0
    for reason in ("queue_full", "handoff_failed"):
        assert value(metrics, "agent_worker_spans_dropped_total", reason=reason) == 0, reason
    assert value(metrics, "agent_worker_spans_exported_total") == 0
    ended = value(metrics, "agent_worker_spans_ended_total")
    assert ended == dropped
    assert value(metrics, "agent_worker_spans_relayed_total") == ended

    # warnings are rate-limited (one process exports), not one per span or batch
    lines = worker.lines()
    warnings = [line for line in lines if SPAN_EXPORT_FAILING in line]
    assert len(warnings) == 1
    assert len(warnings) < dropped
    assert all(" | WARNING | telemetry.exporters | " in line for line in warnings)
    noisy = [
        line for line in lines if re.search(r" \| (WARNING|ERROR) \| (opentelemetry|grpc)", line)
    ]
    assert noisy == []
    assert "Traceback" not in worker.output()

    # memory: the main process does not grow with unexported spans, job processes stay alike
    job_peaks = [rss for pid, rss in memory.peaks.items() if pid in job_pids]
    assert len(job_peaks) == len(job_pids)
    assert memory.first > 0
    main_growth = memory.last - memory.first
    assert abs(main_growth) < 30 * MB, main_growth
    assert max(job_peaks) - min(job_peaks) < 40 * MB, job_peaks
    print(
        f"\ncollector unreachable: {len(rooms)} rooms served in {served_in:.1f}s; "
        f"loop lag max bucket main<={lags['main']}s job<={lags['job']}s; "
        f"export failures {failures:.0f}, spans dropped {dropped:.0f}, "
        f"warnings {len(warnings)}; main RSS {memory.first / MB:.0f}->{memory.last / MB:.0f} MB, "
        f"job RSS peaks {min(job_peaks) / MB:.0f}-{max(job_peaks) / MB:.0f} MB"
    )


@pytest.mark.timeout(180)
def test_spans_arrive_after_the_collector_restarts(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    before, across, during, after = (room_name(p) for p in ("before", "across", "during", "after"))
    with OtelCollector(tmp_path / "collector") as collector:
        worker = WorkerProcess.serving(
            livekit,
            tmp_path / "worker",
            env=_otlp(collector.otlp_http_endpoint),
        )
        with worker, LiveRooms(access, AGENT_NAME) as rooms:
            asyncio.run(session(access, before, [SyntheticParticipant(access, before, "ann")]))
            _wait_roots(collector, {before})

            # a job that runs through the outage, and exports (in vain) during it
            rooms.open(across, [SyntheticParticipant(access, across, "bea")])
            worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(across)} ", timeout=30)
            time.sleep(1.5)  # its first spans are exported
            collector.stop()

            async def outage() -> None:
                visitor = SyntheticParticipant(access, across, "cid")
                await asyncio.gather(
                    visitor.run(0.5, wait_for_agent=30),  # a span that ends during the outage
                    session(access, during, [SyntheticParticipant(access, during, "dot")]),
                )

            asyncio.run(outage())
            worker.wait_for_line(
                rf"{JOB_SHUTTING_DOWN} .* \| room={re.escape(during)} ", timeout=30
            )
            # the main process exports every job's spans: its warning names no room
            worker.wait_for_line(SPAN_EXPORT_FAILING, timeout=15)
            collector.start()

            # what the job produces from now on arrives: a visitor's span, then, once the
            # exporter got through again, the job's last participant span and its root span
            visitor = SyntheticParticipant(access, across, "dee")
            asyncio.run(visitor.run(0.5, wait_for_agent=30))
            worker.wait_for_line(SPAN_EXPORT_RECOVERED, timeout=20)
            rooms.leave(across)
            asyncio.run(session(access, after, [SyntheticParticipant(access, after, "eli")]))
            roots = _wait_roots(collector, {across, after}, timeout=30)
            for root in roots:
                names = {span["name"] for span in _trace(collector, root)}
                assert {"job_entrypoint", "participant", "job_shutdown"} <= names, names
            metrics = worker.scrape()
            assert worker.stop(timeout=30) == 0

    (across_root,) = _roots(collector, {across})
    participants = {
        s["attributes"]["lk.pii.participant_identity"]
        for s in _trace(collector, across_root)
        if s["name"] == "participant"
    }
    assert {"bea", "dee"} <= participants  # their spans ended after the restart
    print(
        f"\ncollector restart: the spans a job produced after the restart arrived; "
        f"during the outage {len(_roots(collector, {during}))} root span(s) of a job arrived, "
        f"the span that ended in the outage {'arrived' if 'cid' in participants else 'was lost'}, "
        f"{_dropped(metrics):.0f} span(s) counted lost"
    )


# --------------------------------------------------------------------------- livekit-server


@pytest.mark.timeout(180)
def test_worker_registers_again_after_livekit_server_is_killed(tmp_path: Path) -> None:
    with LiveKitServer(tmp_path / "livekit") as server:
        access = ServerAccess(server.url, server.api_key, server.api_secret)
        worker = WorkerProcess.serving(server, tmp_path, env={"AGENT_NAME": AGENT_NAME})
        with worker, LiveRooms(access, AGENT_NAME) as rooms:
            assert _health(worker) == 200
            busy = room_name("killed")
            rooms.open(busy, [SyntheticParticipant(access, busy, "eve")])
            worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(busy)} ", timeout=30)
            worker.descendants()

            assert server.pid is not None
            killed_at = time.monotonic()
            os.killpg(server.pid, signal.SIGKILL)
            wait_until(lambda: _health(worker) == 503, 30, what="unhealthy once cut off")
            unhealthy_after = time.monotonic() - killed_at
            assert "agent_worker_registered 0.0" in worker.scrape()
            server.stop()  # reaps the killed server

            server.start()  # same ports, fresh state
            restarted_at = time.monotonic()
            wait_until(lambda: _health(worker) == 200, 60, what="healthy once registered again")
            healthy_after = time.monotonic() - restarted_at
            metrics = worker.scrape()
            assert value(metrics, "agent_worker_registered") == 1
            assert value(metrics, "agent_worker_reconnects_total") == 1
            worker.wait_for_line(REGISTERED_AGAIN, timeout=5)
            # the job of the killed server's room either ended or (its room empty only while
            # the server was away, which the departure check could not confirm) came back
            # with its participant into the restarted server; once she leaves, it ends
            rooms.leave_all()
            worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} .* \| room={re.escape(busy)} ", timeout=30)

            # and it takes jobs again
            fresh = room_name("after-kill")
            asyncio.run(session(access, fresh, [SyntheticParticipant(access, fresh, "fay")]))
            worker.wait_for_line(
                rf"{JOB_SHUTTING_DOWN} \(reason: room empty\) \| room={re.escape(fresh)} ",
                timeout=30,
            )
            worker.descendants()
            assert worker.stop(timeout=30) == 0
        _no_leaks(worker)
    assert "Traceback" not in worker.output()
    print(
        f"\nlivekit-server SIGKILL: unhealthy after {unhealthy_after:.1f}s, "
        f"healthy {healthy_after:.1f}s after the restart"
    )


# ---------------------------------------------------------------------------------- signals


@pytest.mark.timeout(180)
def test_sigterm_with_five_rooms_ends_and_exports_every_job_trace(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    drain_timeout = 5
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        command="start",
        env=_otlp(collector.otlp_http_endpoint, WORKER_DRAIN_TIMEOUT=str(drain_timeout)),
    )
    rooms = [room_name("drain") for _ in range(5)]
    with worker, LiveRooms(access, AGENT_NAME) as live:
        for room in rooms:
            live.open(room, [SyntheticParticipant(access, room, f"guest-{room}")])
        for room in rooms:
            worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(room)} ", timeout=60)
        worker.descendants()
        signalled = time.monotonic()
        worker.send(signal.SIGTERM)
        code = worker.wait(timeout=drain_timeout + 30)
        exit_seconds = time.monotonic() - signalled
        exited_ns = time.time_ns()
        assert code == 0
        _no_leaks(worker)

    roots = _wait_roots(collector, set(rooms), timeout=10)
    assert len(roots) == len(rooms)
    for root in roots:
        assert 0 < root["end_time_unix_nano"] <= exited_ns
        assert root["status_code"] != "ERROR"
        names = {span["name"] for span in _trace(collector, root)}
        assert "job_shutdown" in names, names
    output = worker.output()
    assert DRAINING_WORKER in output
    assert DRAIN_TIMED_OUT in output
    assert "Traceback" not in output
    assert exit_seconds < drain_timeout + 15
    print(f"\nSIGTERM with 5 rooms: exit 0 after {exit_seconds:.1f}s, 5/5 job traces exported")


@pytest.mark.timeout(120)
def test_second_signal_forces_a_prompt_exit(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        command="start",
        env={"AGENT_NAME": AGENT_NAME, "WORKER_DRAIN_TIMEOUT": "600"},
    )
    room = room_name("force")
    with worker, LiveRooms(access, AGENT_NAME) as live:
        live.open(room, [SyntheticParticipant(access, room, "gus")])
        worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(room)} ", timeout=60)
        worker.send(signal.SIGTERM)
        worker.wait_for_line(DRAINING_WORKER, timeout=10)
        time.sleep(0.5)  # the drain is under way and would wait for the room for 10 minutes
        assert worker.process is not None
        assert worker.process.poll() is None
        # the premise: the room's job is still running, so only a forced exit ends the drain
        scraped = samples(worker.scrape()).items()
        active = sum(v for (name, _), v in scraped if name == "lk_agents_active_jobs")
        assert active == 1, f"expected the room's job to be running\n{worker.tail()}"
        signalled = time.monotonic()
        worker.send(signal.SIGINT)
        code = worker.wait(timeout=10)
        exit_seconds = time.monotonic() - signalled
        output = worker.output()
        assert code != 0, output
        assert exit_seconds < 2.5, output
        # the graceful path (drain finished, then the pool closed) was not taken
        assert SHUTTING_DOWN_WORKER not in output, output
        _no_leaks(worker)
    print(f"\nSIGTERM then SIGINT: exit {code} {exit_seconds:.2f}s after SIGINT")


# --------------------------------------------------------------------------------- job faults


@pytest.mark.timeout(150)
def test_a_raising_handler_fails_only_its_own_job(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env=_otlp(collector.otlp_http_endpoint, WORKER_NUM_IDLE_PROCESSES="2"),
        module="tests.support.metadata_worker",
    )
    bad, good, other = room_name("bad"), room_name("good"), room_name("other")
    valid = '{"role": "caller"}'

    def guests(room: str, hostile: bool) -> list[SyntheticParticipant]:
        first = '{"role": "caller"' if hostile else valid  # cut-off JSON
        return [
            SyntheticParticipant(access, room, f"{room}-a", metadata=first),
            SyntheticParticipant(access, room, f"{room}-b", metadata=valid),
        ]

    async def three_rooms() -> None:
        await asyncio.gather(
            *(session(access, room, guests(room, room == bad)) for room in (bad, good, other))
        )

    with worker:
        asyncio.run(three_rooms())
        for room in (bad, good, other):
            worker.wait_for_line(
                rf"{JOB_SHUTTING_DOWN} \(reason: room empty\) \| room={re.escape(room)} ",
                timeout=30,
            )
        metrics = worker.scrape()
        assert worker.stop(timeout=30) == 0

    roots = {
        root["attributes"]["lk.pii.room_name"]: root
        for root in _wait_roots(collector, {bad, good, other})
    }
    failed = roots[bad]
    assert failed["status_code"] == "ERROR"
    assert failed["status_message"] == "participant_connected: JSONDecodeError"
    (exception,) = [e for e in failed["events"] if e["name"] == "exception"]
    assert exception["attributes"]["exception.type"].endswith("JSONDecodeError")
    assert exception["attributes"]["lk.error.handler"] == "participant_connected"
    assert "Traceback" in exception["attributes"]["exception.stacktrace"]
    assert value(metrics, "agent_worker_jobs_failed_total", reason="handler_error") == 1

    # every room, the failed one included, went on handling its events
    for room, root in roots.items():
        if room != bad:
            assert root["status_code"] == "UNSET", room
            assert not [e for e in root["events"] if e["name"] == "exception"], room
        participants = [s for s in _trace(collector, root) if s["name"] == "participant"]
        assert len(participants) == 2, room
        for span in participants:
            events = [e["name"] for e in span["events"]]
            assert events == ["track_published", "track_unpublished"], (room, events)
            assert span["attributes"]["lk.disconnect_reason"] == "client_initiated"

    (line,) = [line for line in worker.lines() if HANDLER_FAILED % "participant_connected" in line]
    assert " | ERROR | worker.handlers | " in line
    assert f"room={bad} " in line
    assert "JSONDecodeError" in line  # the traceback, escaped onto the same line


@pytest.mark.timeout(150)
def test_a_killed_job_process_is_recorded_and_metrics_stay_sound(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env={"AGENT_NAME": AGENT_NAME},
    )
    victim, later = room_name("victim"), room_name("later")
    scrapes: list[str] = []
    with worker, LiveRooms(access, AGENT_NAME) as live:
        live.open(victim, [SyntheticParticipant(access, victim, "hal")])
        worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(victim)} ", timeout=30)
        (pid,) = _job_pids(worker, [victim])
        scrapes.append(worker.scrape())

        os.kill(pid, signal.SIGKILL)
        worker.wait_for_line(JOB_PROCESS_EXITED % (pid, -9), timeout=30)
        scrapes.append(worker.scrape())
        assert _health(worker) == 200
        live.leave(victim)

        asyncio.run(session(access, later, [SyntheticParticipant(access, later, "ivy")]))
        worker.wait_for_line(
            rf"{JOB_SHUTTING_DOWN} \(reason: room empty\) \| room={re.escape(later)} ", timeout=30
        )
        scrapes.append(worker.scrape())
        scrapes.append(worker.scrape("application/openmetrics-text"))
        worker.descendants()
        assert worker.stop(timeout=30) == 0
    _no_leaks(worker)

    for text in scrapes[:3]:
        assert metric_problems(text) == []
        samples(text)  # parses, no duplicate series
    for earlier, later_scrape in itertools.pairwise(scrapes[:3]):
        problems = went_backwards(monotonic_samples(earlier), monotonic_samples(later_scrape))
        assert problems == []
    last = scrapes[2]
    assert value(last, "agent_worker_jobs_failed_total", reason="process_exited") == 1
    assert value(last, "agent_worker_jobs_failed_total", reason="handler_error") == 0
    assert value(last, "agent_worker_registered") == 1
    assert value(last, "agent_worker_active_participants", kind="standard") == 0
    openmetrics = list(openmetrics_families(scrapes[3]))  # the format Prometheus asks for
    assert {"agent_worker_jobs_failed", "agent_worker_registered"} <= {f.name for f in openmetrics}
    assert JOB_PROCESS_EXITED % (pid, -9) in worker.output()
