"""Self-tests of devtools.harness against the real servers it manages."""

from __future__ import annotations

import asyncio
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from livekit import api, rtc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from devtools.harness import (
    LiveKitServer,
    ManagedProcess,
    OtelCollector,
    Prometheus,
    binary,
    free_port,
    free_udp_port_range,
    run_promtool,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> tuple[int, str]:
    with _NO_PROXY.open(url, timeout=5) as resp:
        return int(resp.status), resp.read().decode()


def _tree(pid: int | None) -> list[psutil.Process]:
    assert pid is not None, "server is not running"
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _assert_gone(procs: list[psutil.Process]) -> None:
    alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes left behind: {alive}"


@contextmanager
def _no_leftovers(pid: int | None) -> Iterator[None]:
    """Asserts that the process tree rooted at ``pid`` is gone once the block exits."""
    procs = _tree(pid)
    yield
    _assert_gone(procs)


def _listening_ips(pid: int | None, port: int) -> set[str]:
    conns = psutil.Process(pid).net_connections(kind="tcp")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


# ----------------------------------------------------------------------------- helpers


def test_binary_rejects_unknown_component() -> None:
    with pytest.raises(RuntimeError, match=r"ensure-infra\.sh no-such-server failed"):
        binary("no-such-server")


def test_binaries_resolve_to_executables() -> None:
    for component in ("livekit-server", "otelcol", "prometheus", "promtool"):
        path = binary(component)
        assert path.is_absolute(), path
        assert path.is_file(), path


def test_free_ports() -> None:
    port = free_port()
    assert 0 < port < 65536
    first, last = free_udp_port_range(20)
    assert last - first == 19


def test_managed_process_reports_early_exit_with_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "crasher",
        ["sh", "-c", "echo boom-from-crasher; exit 3"],
        log_dir=tmp_path,
        ready=lambda: False,
        ready_timeout=10,
    )
    with pytest.raises(RuntimeError, match=r"(?s)exit code 3.*boom-from-crasher"):
        proc.start()
    assert proc.pid is None


def test_managed_process_not_ready_is_killed(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "sleeper", ["sleep", "300"], log_dir=tmp_path, ready=lambda: False, ready_timeout=1
    )
    with pytest.raises(RuntimeError, match="not ready after 1s"):
        proc.start()
    assert proc.pid is None


def test_managed_process_kills_whole_group_even_if_term_is_ignored(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 300 & sleep 300 & echo started; wait"
    log = tmp_path / "stubborn.log"
    with ManagedProcess(
        "stubborn",
        ["sh", "-c", script],
        log_dir=tmp_path,
        # a whole line: the log's header line also contains the word, inside the command
        ready=lambda: "started" in log.read_text().splitlines(),
        stop_timeout=1,
    ) as proc:
        procs = _tree(proc.pid)
        assert len(procs) >= 3
    _assert_gone(procs)


# ----------------------------------------------------------------------------- livekit


async def _join_room(server: LiveKitServer, room_name: str) -> list[str]:
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity("infra-selftest")
        .with_grants(api.VideoGrants(room_join=True, room=room_name))
        .to_jwt()
    )
    room = rtc.Room()
    # connect() returns only once the peer connection is up, so this proves ICE works on
    # the loopback-only RTC config.
    await asyncio.wait_for(room.connect(server.url, token), timeout=30)
    try:
        assert room.connection_state == rtc.ConnectionState.CONN_CONNECTED
        lkapi = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
        try:
            resp = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room_name))
        finally:
            await lkapi.aclose()
        return [p.identity for p in resp.participants]
    finally:
        await room.disconnect()


def test_livekit_server_serves_and_restarts_on_same_ports(tmp_path: Path) -> None:
    with LiveKitServer(tmp_path) as server:
        assert server.url == f"ws://127.0.0.1:{server.port}"
        assert _get(f"{server.http_url}/") == (200, "OK")
        assert _listening_ips(server.pid, server.port) == {"127.0.0.1"}
        status, metrics = _get(server.prometheus_url)
        assert status == 200
        assert "livekit_" in metrics
        assert asyncio.run(_join_room(server, "selftest-1")) == ["infra-selftest"]

        with _no_leftovers(server.pid):
            server.stop()
        assert server.pid is None

        server.start()
        assert _get(f"{server.http_url}/") == (200, "OK")
        assert asyncio.run(_join_room(server, "selftest-2")) == ["infra-selftest"]
        procs = _tree(server.pid)
    _assert_gone(procs)


# --------------------------------------------------------------------------- collector


def _send_span(endpoint: str, name: str) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "infra-selftest"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint, insecure=True)))
    try:
        with provider.get_tracer("infra-selftest").start_as_current_span(name) as span:
            span.set_attributes({"lk.room": "room-1", "lk.turn": 3, "lk.ok": True, "lk.ratio": 0.5})
            span.set_attribute("lk.tags", ["a", "b"])
            span.add_event("first-audio", {"lk.latency_ms": 12})
            span.set_status(trace.Status(trace.StatusCode.ERROR, "boom"))
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        provider.shutdown()
    return trace_id


def test_collector_writes_received_spans_and_restarts(tmp_path: Path) -> None:
    with OtelCollector(tmp_path) as collector:
        trace_id = _send_span(collector.otlp_grpc_endpoint, "selftest-span")
        (span,) = collector.wait_for_spans(name="selftest-span")
        assert span["trace_id"] == trace_id
        assert span["parent_span_id"] == ""
        assert span["attributes"] == {
            "lk.room": "room-1",
            "lk.turn": 3,
            "lk.ok": True,
            "lk.ratio": 0.5,
            "lk.tags": ["a", "b"],
        }
        assert span["events"] == [{"name": "first-audio", "attributes": {"lk.latency_ms": 12}}]
        assert (span["status_code"], span["status_message"]) == ("ERROR", "boom")
        assert span["resource"]["service.name"] == "infra-selftest"

        status, metrics = _get(collector.metrics_url)
        assert status == 200
        assert "otelcol_receiver_accepted_spans" in metrics

        with _no_leftovers(collector.pid):
            collector.stop()
        collector.start()
        _send_span(collector.otlp_grpc_endpoint, "after-restart")
        collector.wait_for_spans(name="after-restart")
        # append mode keeps what was received before the restart
        assert {s["name"] for s in collector.read_spans()} == {"selftest-span", "after-restart"}
        procs = _tree(collector.pid)
    _assert_gone(procs)


# -------------------------------------------------------------------------- prometheus


def test_prometheus_scrapes_collector_and_evaluates_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(textwrap.dedent("""\
            groups:
              - name: selftest
                rules:
                  - record: selftest:up:sum
                    expr: sum(up)
            """))
    checked = run_promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    with (
        OtelCollector(tmp_path / "otelcol") as collector,
        Prometheus(
            tmp_path / "prometheus",
            [("otelcol", collector.metrics_target)],
            scrape_interval=0.5,
            rule_files=[rules],
        ) as prom,
    ):
        (target,) = prom.wait_for_targets_up(timeout=30)
        assert target["labels"]["job"] == "otelcol"
        (sample,) = prom.query('up{job="otelcol"}')
        assert sample["value"][1] == "1"
        # the rule needs an evaluation after the first scrape; bounded to ~15s
        for _ in range(60):
            if prom.query("selftest:up:sum"):
                break
            time.sleep(0.25)
        (recorded,) = prom.query("selftest:up:sum")
        assert recorded["value"][1] == "1"
        procs = _tree(prom.pid)
    _assert_gone(procs)


def test_promtool_reports_invalid_rules(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - record: r\n        expr: sum(\n")
    result = run_promtool("check", "rules", str(bad))
    assert result.returncode != 0
