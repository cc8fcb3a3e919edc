"""A real room session against a real livekit-server, read from the worker's own output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from devtools.harness import LiveKitServer, WorkerProcess, wait_until
from devtools.harness.sdk_logs import REGISTERED_WORKER, SHUTTING_DOWN_WORKER, STARTING_WORKER
from devtools.synthetic import ServerAccess, SyntheticParticipant
from worker.log_messages import (
    CONNECTED_TO_ROOM,
    JOB_RECEIVED,
    JOB_SHUTTING_DOWN,
    PARTICIPANT_CONNECTED,
    PARTICIPANT_DISCONNECTED,
)

from .conftest import AGENT_NAME, room_name, session


def _probe(worker: WorkerProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.health", "--url", worker.health_url, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_room_session_end_to_end(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    room = room_name("e2e")
    worker = WorkerProcess.serving(livekit, tmp_path, env={"AGENT_NAME": AGENT_NAME})
    with worker:
        probe = _probe(worker)
        assert probe.returncode == 0, probe.stdout
        assert probe.stdout.startswith("healthy")

        alice = SyntheticParticipant(access, room, "alice-e2e")
        asyncio.run(session(access, room, [alice]))
        worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30)

        expected = [
            rf"{JOB_RECEIVED}: {room} \| room={room} job_id=AJ_",
            rf"{CONNECTED_TO_ROOM}: {room} \| room={room}",
            rf"{PARTICIPANT_CONNECTED}: alice-e2e \(kind: standard\) \| room={room}",
            rf"Track published: TR_\w+ \(source: microphone, kind: audio\) by alice-e2e \| "
            rf"room={room}",
            rf"Track unpublished: TR_\w+ \(source: microphone, kind: audio\) by alice-e2e \| "
            rf"room={room}",
            rf"{PARTICIPANT_DISCONNECTED}: alice-e2e \(reason: client_initiated\) \| room={room}",
        ]
        for pattern in expected:
            (line,) = worker.wait_for_line(pattern, timeout=5)
            assert " | INFO | " in line
            assert " trace_id=" in line
            assert " span_id=" in line

        assert worker.descendants(), "the worker runs its jobs in child processes"
        assert worker.stop(signal.SIGTERM, timeout=30) == 0
    assert worker.leaked() == []
    probe = _probe(worker)
    assert probe.returncode == 1
    assert probe.stdout.startswith("unhealthy: cannot reach")
    output = worker.output()
    assert "Traceback" not in output
    assert SHUTTING_DOWN_WORKER in output


def test_each_record_is_one_line_in_main_and_job_processes(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    room = room_name("json")
    for command in ("dev", "start"):
        worker = WorkerProcess.serving(
            livekit,
            tmp_path / command,
            command=command,
            env={"AGENT_NAME": AGENT_NAME, "LOG_FORMAT": "json", "WORKER_DRAIN_TIMEOUT": "5"},
        )
        with worker:
            asyncio.run(
                session(
                    access,
                    f"{room}-{command}",
                    [SyntheticParticipant(access, f"{room}-{command}", "bob")],
                )
            )
            worker.wait_for_line(JOB_SHUTTING_DOWN, timeout=30)
        entries = [json.loads(line) for line in worker.lines() if line.startswith("{")]
        messages = [e["message"] for e in entries]
        for message in (
            STARTING_WORKER,
            REGISTERED_WORKER,
            f"{JOB_RECEIVED}: {room}-{command}",
        ):
            assert messages.count(message) == 1, (command, message, messages)
        job_lines = [e for e in entries if e.get("job_id")]
        assert job_lines
        assert all(e["room"] == f"{room}-{command}" for e in job_lines)
        others = [line for line in worker.lines() if not line.startswith("{")]
        assert others == [], others


def test_health_reports_the_lost_connection(tmp_path: Path) -> None:
    with LiveKitServer(tmp_path / "livekit") as server:
        worker = WorkerProcess(server.url, server.api_key, server.api_secret, tmp_path / "w")
        with worker:
            assert _probe(worker).returncode == 0
            server.stop()
            wait_until(lambda: _probe(worker).returncode == 1, 30, what="unhealthy after cut-off")
            assert "agent_worker_registered 0.0" in worker.scrape()
            server.start()
            wait_until(lambda: _probe(worker).returncode == 0, 60, what="healthy after restart")
            metrics = worker.scrape()
            assert "agent_worker_registered 1.0" in metrics
            assert "agent_worker_reconnects_total 1.0" in metrics
        assert worker.leaked() == []


def test_demo_traffic_is_served_and_bounded(livekit: LiveKitServer, tmp_path: Path) -> None:
    worker = WorkerProcess.serving(livekit, tmp_path, env={"AGENT_NAME": AGENT_NAME})
    with worker:
        env = {
            **os.environ,
            "LIVEKIT_URL": livekit.url,
            "LIVEKIT_API_KEY": livekit.api_key,
            "LIVEKIT_API_SECRET": livekit.api_secret,
            "AGENT_NAME": AGENT_NAME,
        }
        demo = subprocess.run(
            [sys.executable, "-m", "devtools.demo_traffic", "--rooms", "2", "--seconds", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.count("participant(s) published for 2s and left") == 2
        worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30, count=2)
