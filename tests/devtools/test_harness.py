"""The harness's own logic that needs no server: ports, OTLP parsing, promtool lookup, fakes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from devtools.harness import (
    FakeRoom,
    PromtoolMissingError,
    WorkerProcess,
    find_promtool,
    free_ports,
    occupied_port,
    parse_otlp_json_spans,
    wait_until,
)


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    first, second = free_ports(40), free_ports(40)
    assert not set(first) & set(second)
    assert all(20000 <= port <= 32000 for port in first + second)


def test_an_occupied_port_refuses_a_second_bind() -> None:
    with (
        occupied_port() as port,
        socket.socket() as sock,
        pytest.raises(OSError, match="in use"),
    ):
        sock.bind(("127.0.0.1", port))


def test_otlp_json_spans_are_flattened() -> None:
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "job_entrypoint",
        "kind": 1,
        "startTimeUnixNano": "10",
        "endTimeUnixNano": "20",
        "status": {"code": 2, "message": "boom"},
        "attributes": [
            {"key": "n", "value": {"intValue": "7"}},
            {"key": "list", "value": {"arrayValue": {"values": [{"boolValue": True}]}}},
        ],
        "events": [{"name": "e", "attributes": [{"key": "d", "value": {"doubleValue": 0.5}}]}],
    }
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]
                },
                "scopeSpans": [{"scope": {"name": "worker"}, "spans": [span]}],
            }
        ]
    }
    # the trailing partial line is a write in progress
    (parsed,) = parse_otlp_json_spans(json.dumps(document) + "\n" + '{"resourceSp')
    assert parsed == {
        "name": "job_entrypoint",
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_span_id": "",
        "kind": 1,
        "status_code": "ERROR",
        "status_message": "boom",
        "start_time_unix_nano": 10,
        "end_time_unix_nano": 20,
        "attributes": {"n": 7, "list": [True]},
        "events": [{"name": "e", "attributes": {"d": 0.5}}],
        "resource": {"service.name": "w"},
        "scope": "worker",
    }


def test_promtool_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    promtool = tmp_path / "promtool"
    promtool.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PROMTOOL", str(promtool))
    assert find_promtool() == str(promtool)
    monkeypatch.setenv("PROMTOOL", str(tmp_path / "missing"))
    with pytest.raises(PromtoolMissingError, match="does not exist"):
        find_promtool()


def test_a_fake_room_handler_may_unregister_itself() -> None:
    room = FakeRoom()
    calls: list[str] = []

    def once(value: str) -> None:
        calls.append(f"once {value}")
        room.off("event", once)

    room.on("event", once)
    room.on("event", lambda value: calls.append(f"always {value}"))
    room.emit("event", "a")
    room.emit("event", "b")
    assert calls == ["once a", "always a", "always b"]


def test_wait_until_returns_the_first_truthy_result_and_gives_up_in_time() -> None:
    values = iter([0, "", "ready"])
    assert wait_until(lambda: next(values), 1.0, interval=0.01) == "ready"
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: False, 0.05, interval=0.01, what="never")


def test_a_closed_worker_leaves_no_metrics_directory(tmp_path: Path) -> None:
    """It lives under the system's temporary directory, not the test's: every worker a
    test started used to leave one behind."""
    worker = WorkerProcess("ws://127.0.0.1:1", "key", "secret", tmp_path)
    assert worker.metrics_dir.is_dir()
    (worker.metrics_dir / "counter_1.db").write_bytes(b"")
    worker.close()
    assert not worker.metrics_dir.exists()
