"""Bad input: configuration a user gets wrong, and participants who send hostile data.

The configuration cases complete ``tests/worker/test_cli.py`` with what it does not cover.
The participants join a real livekit-server with the largest values it accepts (it refuses
1 MB ones, cleanly, before any worker sees them) and with control characters, newlines,
ANSI escapes, JSON fragments and invalid UTF-8; the worker must keep one record per log
line, truncate span attributes and keep its metric series.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from livekit import rtc

from devtools.harness import (
    LiveKitServer,
    OtelCollector,
    Span,
    WorkerProcess,
    free_ports,
    occupied_port,
    samples,
    value,
)
from devtools.synthetic import ServerAccess, SyntheticParticipant, create_dispatch, token_for
from worker.log_messages import JOB_SHUTTING_DOWN, PARTICIPANT_CONNECTED
from worker.settings import RuntimeSettings

from .conftest import AGENT_NAME, session

# ------------------------------------------------------------------------- configuration


def _run(env: dict[str, str], command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m worker <command>``; a worker that starts instead of refusing is stopped
    (its whole process group) after a few seconds, and its output returned all the same."""
    clean = {k: v for k, v in os.environ.items() if k not in RuntimeSettings.model_fields}
    clean["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    health, metrics = free_ports(2)
    ports = {"HEALTH_PORT": str(health), "METRICS_PORT": str(metrics)}
    argv = [sys.executable, "-m", "worker", command]
    with subprocess.Popen(
        argv,
        env={**clean, **ports, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,  # no .env file there
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate(timeout=10)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("env", "command", "expected"),
    [
        # a production key whose secret was forgotten must not fall back to the dev secret
        ({"LIVEKIT_API_KEY": "APIproduction7"}, "start", "LIVEKIT_API_SECRET: must be set"),
        ({"LIVEKIT_API_KEY": "APIproduction7"}, "dev", "LIVEKIT_API_SECRET: must be set"),
        ({"LIVEKIT_URL": "ftp://livekit.example:7880"}, "dev", "LIVEKIT_URL: must be a ws/wss"),
        ({"LOG_LEVEL": "verbose"}, "dev", "LOG_LEVEL"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:43x17"},
            "dev",
            "OTEL_EXPORTER_OTLP_ENDPOINT: has an invalid port",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://collector:4317"},
            "dev",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http(s)://host:port URL",
        ),
        # an existing directory that not even root may write to
        ({"PROMETHEUS_MULTIPROC_DIR": "/sys"}, "dev", "PROMETHEUS_MULTIPROC_DIR: /sys is not a"),
    ],
)
def test_more_bad_configuration_is_one_line_and_exit_2(
    env: dict[str, str], command: str, expected: str, tmp_path: Path
) -> None:
    run = _run(env, command, tmp_path)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert run.stdout == ""


@pytest.mark.timeout(60)
def test_metrics_port_already_in_use(tmp_path: Path) -> None:
    with occupied_port() as port:
        run = _run({"METRICS_PORT": str(port)}, "dev", tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: METRICS_PORT: port {port} on 127.0.0.1 is already in use"


@pytest.mark.timeout(90)
def test_production_mode_with_dev_credentials_starts_when_allowed(
    livekit: LiveKitServer, tmp_path: Path
) -> None:
    assert (livekit.api_key, livekit.api_secret) == ("devkey", "secret")
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        command="start",
        env={"AGENT_NAME": AGENT_NAME, "ALLOW_DEV_CREDENTIALS_IN_PRODUCTION": "true"},
    )
    with worker:  # waits for REGISTERED_WORKER and agent_worker_registered 1
        assert value(worker.scrape(), "agent_worker_registered") == 1
        assert worker.stop(timeout=30) == 0
    assert "refused in production mode" not in worker.output()


# -------------------------------------------------------------------- hostile participants

# The largest values livekit-server (v1.13) accepts in a join token: identities are limited
# to 256 bytes, attributes to about 64 kB in all, and the whole token must fit the server's
# 1 MB request-header limit, which name and metadata share.
MAX_IDENTITY_BYTES = 256
BIG_ATTRIBUTE = 60_000
BIG_TEXT = 300_000
MEGABYTE = 1_000_000
ATTRIBUTE_LIMIT = 1000

# what a hostile client puts in its strings: a line break to start a fake record, terminal
# escapes, a JSON fragment that closes the record and opens a forged one, Unicode line
# separators, NUL, and a lone surrogate (which the token's JSON cannot carry: it arrives as
# U+FFFD)
NASTY = (
    "x\n2026-01-01 00:00:00,000 | ERROR | forged | pwned\r\n\t\x1b[31mRED\x1b[0m\x1b]0;title\x07"
    '\x00 "}{"level": "CRITICAL", "message": "forged"} \u2028\u2029\x85\x0b\x0c \udcff end'
)


def _hostile(length: int, tag: str) -> str:
    text = f"{tag}:{NASTY}"
    return (text * (length // len(text) + 1))[:length]


def _big(length: int, tag: str) -> str:
    """``length`` characters: hostile ones first, then plain filler (escaped control
    characters take six bytes each in the token's JSON, and the token has 1 MB)."""
    hostile = _hostile(2000, tag)
    return hostile + tag[0] * (length - len(hostile))


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))  # a lone surrogate arrives as 3 bytes


def _hostile_identity(tag: str) -> str:
    identity = _hostile(MAX_IDENTITY_BYTES, f"id-{tag}")
    while _utf8_size(identity) > MAX_IDENTITY_BYTES:
        identity = identity[:-1]
    return identity


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(access: ServerAccess, room: str, identity: bytes, name: bytes) -> str:
    """A join token whose claims carry raw bytes that are not UTF-8 (signed by hand:
    a JWT library would refuse to encode them)."""
    now = int(time.time())
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    claims = (
        b'{"iss":' + json.dumps(access.api_key).encode() + b',"sub":"' + identity
        + b'","name":"' + name + b'","nbf":' + str(now - 10).encode()
        + b',"exp":' + str(now + 600).encode()
        + b',"video":{"roomJoin":true,"room":' + json.dumps(room).encode() + b"}}"
    )  # fmt: skip
    signing_input = f"{header}.{_b64(claims)}"
    signature = hmac.new(access.api_secret.encode(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(signature.digest())}"


async def _join_with_token(access: ServerAccess, token: str, stay: float) -> None:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(access.url, token), 15)
    try:
        deadline = time.monotonic() + 45
        while not any(
            p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            for p in room.remote_participants.values()
        ):
            assert time.monotonic() < deadline, "no agent joined"
            await asyncio.sleep(0.05)
        await asyncio.sleep(stay)
    finally:
        await room.disconnect()


async def _refused(access: ServerAccess, room: str, **fields: object) -> tuple[str, float]:
    """Try to join with a token carrying ``fields``; return the error and how long it took."""
    token = token_for(access, room, **fields)  # type: ignore[arg-type]
    client = rtc.Room()
    started = time.monotonic()
    try:
        await asyncio.wait_for(client.connect(access.url, token), 30)
    except rtc.ConnectError as error:
        return str(error), time.monotonic() - started
    await client.disconnect()
    return "", time.monotonic() - started


def _series(metrics: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return set(samples(metrics))


def _spans_of_room(collector: OtelCollector, room_prefix: str) -> list[Span]:
    roots = [
        s
        for s in collector.read_spans()
        if s["name"] == "job_entrypoint"
        and str(s["attributes"].get("lk.pii.room_name", "")).startswith(room_prefix)
    ]
    traces = {root["trace_id"] for root in roots}
    return [s for s in collector.read_spans() if s["trace_id"] in traces]


TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| (TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL) \| "
    r"[\w.]+ \| "
)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_hostile_participants_cannot_forge_logs_grow_spans_or_add_series(
    log_format: str,
    livekit: LiveKitServer,
    access: ServerAccess,
    collector: OtelCollector,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    calm = f"calm-{tag}"
    hostile_prefix = f"hostile-{tag}"
    hostile = hostile_prefix + '\n\x1b[2J"}{"level":"ERROR"}'
    worker = WorkerProcess.serving(
        livekit,
        tmp_path,
        env={
            "AGENT_NAME": AGENT_NAME,
            "LOG_FORMAT": log_format,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": str(ATTRIBUTE_LIMIT),
        },
    )
    identity = _hostile_identity(tag)
    arrived_identity = identity.replace("\udcff", "\ufffd")
    big = SyntheticParticipant(
        access,
        hostile,
        identity,
        name=_big(BIG_TEXT, "name"),
        metadata=_big(BIG_TEXT, "meta"),
        attributes={_hostile(200, "key"): _big(BIG_ATTRIBUTE, "attr")},
    )
    invalid = b"\xff\xfe\xc3\x28 \xed\xa0\x80 \xf0\x28\x8c\x28 \xc0\xaf"
    raw = _raw_token(access, hostile, b"raw-" + tag.encode() + invalid, b"n\\n" + invalid)

    async def hostile_session() -> list[tuple[str, float]]:
        await create_dispatch(access, hostile, AGENT_NAME)
        await asyncio.gather(big.run(1.5, wait_for_agent=45), _join_with_token(access, raw, 1.5))
        return [
            await _refused(access, hostile, identity=_hostile(MEGABYTE, "id")),
            await _refused(access, hostile, identity="n", name=_hostile(MEGABYTE, "name")),
            await _refused(access, hostile, identity="m", metadata=_hostile(MEGABYTE, "meta")),
            await _refused(access, hostile, identity="a", attributes={"a": "v" * MEGABYTE}),
        ]

    with worker:
        asyncio.run(session(access, calm, [SyntheticParticipant(access, calm, "plain")]))
        worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30)
        before = worker.scrape()

        refusals = asyncio.run(hostile_session())
        worker.wait_for_line(rf"{JOB_SHUTTING_DOWN} \(reason: room empty\)", timeout=30, count=2)
        after = worker.scrape()
        assert worker.stop(timeout=30) == 0

    # a 1 MB value is refused by the server, quickly and with a reason; no job fails for it
    for error, seconds in refusals:
        assert "431 Request Header Fields Too Large" in error, error
        assert seconds < 15
    for reason in ("entrypoint_error", "handler_error", "process_exited"):
        assert value(after, "agent_worker_jobs_failed_total", reason=reason) == 0

    # the metric series are the ones a calm room made: nothing a participant sends is a label
    assert _series(after) == _series(before)
    assert tag not in after

    # every log line is one record
    output = worker.output()
    lines = output.splitlines()
    assert len(lines) == output.count("\n")  # no other line breaks (\u2028, \x85, \r, ...)
    if log_format == "json":
        entries = [json.loads(line) for line in lines]
        assert all(isinstance(entry, dict) for entry in entries)
        assert not [e for e in entries if e["level"] == "CRITICAL" or e["logger"] == "forged"]
        connected = [e for e in entries if e["message"].startswith(f"{PARTICIPANT_CONNECTED}: ")]
        logged = {e["message"].removeprefix(f"{PARTICIPANT_CONNECTED}: ") for e in connected}
        assert f"{arrived_identity} (kind: standard)" in logged
        raw_identities = [m for m in logged if m.startswith(f"raw-{tag}")]
        assert len(raw_identities) == 1
        assert "\ufffd" in raw_identities[0]  # invalid bytes arrive replaced, not raw
    else:
        assert [line for line in lines if not TEXT_LINE.match(line)] == []
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]", output)
        connected = [line for line in lines if f" | {PARTICIPANT_CONNECTED}: " in line]
        assert any(f"id-{tag}:x\\n2026-01-01 00:00:00,000 | ERROR | forged" in c for c in connected)
        assert any(f"raw-{tag}" in line for line in connected)
    assert "Traceback" not in output

    # span attributes stop at the configured length
    spans = _spans_of_room(collector, hostile_prefix)
    assert {"job_entrypoint", "participant"} <= {s["name"] for s in spans}
    for span in spans:
        values = list(span["attributes"].values())
        values += [v for event in span["events"] for v in event["attributes"].values()]
        for item in values:
            assert not isinstance(item, str) or len(item) <= ATTRIBUTE_LIMIT, span["name"]
    names = [
        s["attributes"]["lk.pii.participant_name"]
        for s in spans
        if s["name"] == "participant" and s["attributes"].get("lk.pii.participant_name")
    ]
    assert len(max(names, key=len)) == ATTRIBUTE_LIMIT  # truncated, not dropped
    identities = [s["attributes"].get("lk.pii.participant_identity", "") for s in spans]
    assert arrived_identity in identities
