"""Nothing leaks: the API secret, personal data, or a listening socket beyond BIND_HOST.

Each test captures everything the worker lets out (every log line, the spans the Collector
received, both scrape formats of ``/metrics``, the health answers, error messages) and
searches all of it.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devtools.harness import (
    LiveKitServer,
    LiveRooms,
    OtelCollector,
    WorkerProcess,
    health_answers,
    sockets_of,
    wait_until,
)
from devtools.harness.sdk_logs import FAILED_TO_CONNECT, REGISTERED_WORKER
from devtools.synthetic import ServerAccess, SyntheticParticipant
from worker.log_messages import (
    CONNECTED_TO_ROOM,
    JOB_RECEIVED,
    JOB_SHUTTING_DOWN,
    PARTICIPANT_CONNECTED,
)
from worker.settings import RuntimeSettings

from .conftest import AGENT_NAME, room_name, session

JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.")


def _encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def _spans_text(collector: OtelCollector) -> str:
    return collector.spans_file.read_text() if collector.spans_file.exists() else ""


def _scrapes(worker: WorkerProcess) -> str:
    return worker.scrape() + "\n" + worker.scrape("application/openmetrics-text")


# ---------------------------------------------------------------------------------- secret


@pytest.mark.timeout(180)
def test_the_api_secret_never_leaks(collector: OtelCollector, tmp_path: Path) -> None:
    key = f"APIleak{secrets.token_hex(4)}"
    secret = f"lkaw-secret-{secrets.token_hex(24)}"
    wrong = f"lkaw-wrong-{secrets.token_hex(24)}"
    captured: dict[str, str] = {}

    with LiveKitServer(tmp_path / "livekit", extra_config={"keys": {key: secret}}) as server:
        access = ServerAccess(server.url, key, secret)
        worker = WorkerProcess.serving(
            access,
            tmp_path / "worker",
            command="start",
            env={
                "AGENT_NAME": AGENT_NAME,
                "LOG_LEVEL": "DEBUG",
                "LOG_FORMAT": "json",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
                "WORKER_DRAIN_TIMEOUT": "5",
            },
        )
        room = room_name("secret")
        with worker:
            asyncio.run(session(access, room, [SyntheticParticipant(access, room, "kim")]))
            worker.wait_for_line(JOB_SHUTTING_DOWN, timeout=30)
            captured["metrics"] = _scrapes(worker)
            captured["health"] = health_answers(worker.health_url)
            assert worker.stop(timeout=30) == 0
        captured["log"] = worker.output()

        # a worker whose secret the server refuses: its error messages must not echo it
        refused = WorkerProcess(
            server.url,
            key,
            wrong,
            tmp_path / "refused",
            env={"AGENT_NAME": AGENT_NAME, "LOG_LEVEL": "DEBUG"},
        )
        refused.start(wait_registered=None)  # it never registers
        try:
            refused.wait_for_line(rf"{FAILED_TO_CONNECT}.* error=401", timeout=60)
            refused.wait_for_line(FAILED_TO_CONNECT, timeout=30, count=3)
            captured["refused health"] = health_answers(refused.health_url)
            captured["refused metrics"] = _scrapes(refused)
        finally:
            refused.close()
        captured["refused log"] = refused.output()

    # a configuration error with the secret set
    clean = {k: v for k, v in os.environ.items() if k not in RuntimeSettings.model_fields}
    config_error = subprocess.run(
        [sys.executable, "-m", "worker", "dev"],
        env={
            **clean,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "LIVEKIT_API_KEY": key,
            "LIVEKIT_API_SECRET": secret,
            "LOG_LEVEL": "LOUD",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert config_error.returncode == 2
    captured["config error"] = config_error.stdout + config_error.stderr
    wait_until(  # the job's trace is among the spans searched
        lambda: [
            s
            for s in collector.read_spans()
            if s["name"] == "job_entrypoint" and s["attributes"].get("lk.pii.room_name") == room
        ],
        20,
        what="the job's trace",
    )
    captured["spans"] = _spans_text(collector)

    assert JOB_RECEIVED in captured["log"]  # the capture saw a real job
    for what, text in captured.items():
        for leaked in (secret, wrong):
            for form in _encodings(leaked):
                assert form not in text, f"the secret appears in the {what}"
        assert not JWT.search(text), f"an access token appears in the {what}"


# ------------------------------------------------------------------------------------- PII


@pytest.mark.timeout(120)
def test_no_room_name_or_identity_leaves_with_pii_disallowed(
    livekit: LiveKitServer, access: ServerAccess, collector: OtelCollector, tmp_path: Path
) -> None:
    tag = secrets.token_hex(4)
    room = f"pii-room-{tag}"
    people = [
        SyntheticParticipant(access, room, f"pii-person-{tag}-{i}", name=f"pii-name-{tag}-{i}")
        for i in range(2)
    ]
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env={
            "AGENT_NAME": AGENT_NAME,
            "ALLOW_PII": "false",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
        },
    )
    with worker:
        asyncio.run(session(access, room, people))
        (line,) = worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30)
        room_sid = re.findall(r'"room_id": "(RM_\w+)"', line)[0]
        metrics = _scrapes(worker)
        health = health_answers(worker.health_url)
        assert worker.stop(timeout=30) == 0

    # the job was traced and logged, by sid
    roots = wait_until(
        lambda: [
            s
            for s in collector.read_spans()
            if s["name"] == "job_entrypoint" and s["attributes"].get("lk.room_sid") == room_sid
        ],
        20,
        what="the job's trace",
    )
    trace = [s for s in collector.read_spans() if s["trace_id"] == roots[0]["trace_id"]]
    assert len([s for s in trace if s["name"] == "participant"]) == 2
    log = worker.output()
    assert len(re.findall(rf"{PARTICIPANT_CONNECTED}: PA_\w+ ", log)) == 2

    captured = {"spans": _spans_text(collector), "log": log, "metrics": metrics, "health": health}
    for what, text in captured.items():
        for personal in (room, f"pii-person-{tag}", f"pii-name-{tag}"):
            assert personal not in text, f"{personal!r} appears in the {what}"


# ----------------------------------------------------------------------------------- ports


def _listening(worker: WorkerProcess) -> tuple[list[tuple[str, int]], list[str]]:
    """The worker processes' listening TCP addresses, and their UDP addresses."""
    assert worker.process is not None
    found = sockets_of([worker.process.pid, *worker.descendants()])
    tcp = sorted({(s.ip, s.port) for s in found if s.kind == "tcp" and s.status == "LISTEN"})
    udp = sorted({s.ip for s in found if s.kind == "udp"})
    return tcp, udp


@pytest.mark.timeout(120)
def test_health_and_metrics_listen_on_bind_host_only(
    livekit: LiveKitServer, access: ServerAccess, tmp_path: Path
) -> None:
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env={"AGENT_NAME": AGENT_NAME, "BIND_HOST": "127.0.0.1"},
    )
    room = room_name("ports")
    with worker, LiveRooms(access, AGENT_NAME) as rooms:
        idle_tcp, idle_udp = _listening(worker)
        rooms.open(room, [SyntheticParticipant(access, room, "lou")])
        worker.wait_for_line(rf"{CONNECTED_TO_ROOM}: {re.escape(room)} ", timeout=30)
        busy_tcp, busy_udp = _listening(worker)

    for tcp in (idle_tcp, busy_tcp):
        assert {ip for ip, _ in tcp} == {"127.0.0.1"}, tcp
        assert {worker.health_port, worker.metrics_port} <= {port for _, port in tcp}
    assert idle_udp == []
    # in a room, the WebRTC stack holds UDP sockets for ICE on the host's interfaces (media,
    # not a service BIND_HOST governs); none is bound to a wildcard address
    assert not [ip for ip in busy_udp if ipaddress.ip_address(ip).is_unspecified]
    print(f"\nlistening: {busy_tcp}; UDP (ICE) on {busy_udp}")


@pytest.mark.timeout(90)
def test_bind_host_is_where_health_and_metrics_listen(
    livekit: LiveKitServer, tmp_path: Path
) -> None:
    host = "127.0.0.2"  # loopback too, but not the default address
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env={"AGENT_NAME": AGENT_NAME, "BIND_HOST": host},
    )
    worker.start(wait_registered=None)  # its helpers probe 127.0.0.1
    try:
        worker.wait_for_line(REGISTERED_WORKER, timeout=60)
        metrics_url = f"http://{host}:{worker.metrics_port}/metrics"
        wait_until(lambda: _answers(metrics_url) == 200, 30, what="metrics on BIND_HOST")
        assert _answers(f"http://{host}:{worker.health_port}/") == 200
        for port in (worker.health_port, worker.metrics_port):
            assert _answers(f"http://127.0.0.1:{port}/") == 0
        tcp, _ = _listening(worker)
        assert {ip for ip, _ in tcp} == {host}, tcp
    finally:
        worker.close()


def _answers(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0
