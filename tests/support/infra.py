"""Real servers for integration tests: livekit-server, an OpenTelemetry Collector and Prometheus.

Binaries come from ``scripts/ensure-infra.sh``, which builds or installs them once per machine
into a cache outside the repository. Every server binds loopback only, on free ports, and runs
in its own process group so that stopping it also stops anything it spawned.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Self

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ENSURE_INFRA = REPO_ROOT / "scripts" / "ensure-infra.sh"
COLLECTOR_CONFIG = REPO_ROOT / "deploy" / "collector" / "config.yaml"

LIVEKIT_API_KEY = "devkey"
LIVEKIT_API_SECRET = "secret"

Span = dict[str, Any]

# A cold build of livekit-server or the Collector takes minutes; a wedged one must still end.
_ENSURE_TIMEOUT_S = 2400.0
_POLL_INTERVAL_S = 0.1
_LOG_TAIL_LINES = 60
_STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}

# Proxy settings from the environment must never route loopback probes elsewhere.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --------------------------------------------------------------------------------- binaries


@functools.cache
def binary(component: str) -> Path:
    """Returns the path of an infra binary, building or installing it first if needed.

    Args:
        component: One of ``livekit-server``, ``otelcol``, ``prometheus``, ``promtool``.

    Returns:
        Absolute path of the executable (cached for the rest of the process).

    Raises:
        RuntimeError: If ``scripts/ensure-infra.sh`` fails or prints no usable path.
    """
    try:
        proc = subprocess.run(
            ["bash", str(ENSURE_INFRA), component],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=_ENSURE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"scripts/ensure-infra.sh {component} did not finish in {_ENSURE_TIMEOUT_S:.0f}s"
        ) from exc
    lines = proc.stdout.strip().splitlines()
    path = Path(lines[-1]) if lines else None
    if proc.returncode != 0 or path is None or not os.access(path, os.X_OK):
        stderr_tail = "\n".join(proc.stderr.splitlines()[-_LOG_TAIL_LINES:])
        raise RuntimeError(
            f"scripts/ensure-infra.sh {component} failed (exit {proc.returncode}, "
            f"stdout {proc.stdout.strip()!r}); required infra is missing.\n{stderr_tail}"
        )
    return path


def promtool(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs ``promtool`` with the given arguments.

    Args:
        *args: Arguments passed to promtool, e.g. ``"check", "rules", "rules.yml"``.
        timeout: Seconds before the run is abandoned.

    Returns:
        The completed process with text stdout/stderr; the caller checks ``returncode``.
    """
    return subprocess.run(
        [str(binary("promtool")), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ------------------------------------------------------------------------------------ ports


def _free_tcp_ports(count: int) -> list[int]:
    # All sockets stay open until every port is picked, so one call never repeats a port.
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    """Returns a TCP port that is currently free on 127.0.0.1."""
    return _free_tcp_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Returns ``count`` distinct TCP ports that are currently free on 127.0.0.1."""
    return _free_tcp_ports(count)


def free_udp_port_range(n: int, *, attempts: int = 200) -> tuple[int, int]:
    """Finds ``n`` consecutive UDP ports that are currently free.

    The range is picked below the kernel's usual ephemeral range (32768+), where ports handed
    out by ``bind(0)`` elsewhere in the test run will not land.

    Args:
        n: Number of ports wanted.
        attempts: Candidate ranges to try before giving up.

    Returns:
        ``(first, last)``, both inclusive.

    Raises:
        RuntimeError: If no free range was found.
    """
    for _ in range(attempts):
        start = random.randint(20000, 32000 - n)
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + n):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                # The wildcard bind fails if the port is taken on any address.
                sock.bind(("0.0.0.0", port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return start, start + n - 1
    raise RuntimeError(f"no {n} consecutive free UDP ports found in {attempts} attempts")


# ------------------------------------------------------------------------------------- HTTP


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with _HTTP.open(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        return _http_get(url)[0] == 200

    return check


# ---------------------------------------------------------------------------------- process


def _live_group_members(pgid: int) -> list[int]:
    # Zombies are skipped: orphans wait for PID 1 to reap them, which may never happen in a
    # container whose PID 1 is not an init.
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command name: state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we were looking
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _wait_group_gone(pgid: int, timeout: float) -> list[int]:
    # SIGKILL is delivered asynchronously, so members can still show as running just after it.
    deadline = time.monotonic() + timeout
    members = _live_group_members(pgid)
    for _ in range(int(timeout / 0.05) + 2):
        if not members or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
        members = _live_group_members(pgid)
    return members


class ManagedProcess:
    """A server process with a log file, a readiness check and a bounded shutdown.

    The process runs in its own session (hence its own process group); ``stop()`` signals the
    whole group, SIGTERM first and SIGKILL after ``stop_timeout``. The object can be started
    again after ``stop()``; the log file is appended to across restarts.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        ready: Callable[[], bool],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Prepares (does not start) the process.

        Args:
            name: Short name, used for the log file name and in error messages.
            argv: Command line.
            log_dir: Directory for ``<name>.log`` (stdout and stderr).
            ready: Returns True once the server serves; OSError, HTTPException and ValueError
                raised by it count as "not yet".
            env: Variables added to (overriding) the current environment.
            cwd: Working directory, default the repository root.
            ready_timeout: Seconds to wait for ``ready`` before failing.
            stop_timeout: Seconds between SIGTERM and SIGKILL.
        """
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_dir) / f"{name}.log"
        self._ready = ready
        self._env = dict(env or {})
        self._cwd = cwd or REPO_ROOT
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID (also the process-group id) of the running process, else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the started process has not exited."""
        return self._proc is not None and not self._leader_exited()

    def start(self) -> None:
        """Starts the process and blocks until it is ready.

        Raises:
            RuntimeError: If it exits or is not ready within ``ready_timeout``; the process
                group is stopped first and the message carries the tail of the log.
        """
        if self._proc is not None:
            raise RuntimeError(f"{self.name} is already started (pid {self._proc.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self._cwd,
                env={**os.environ, **self._env},
                start_new_session=True,
            )
        except OSError:
            self._close_log()
            raise
        try:
            self._wait_ready()
        except BaseException:
            # Also on KeyboardInterrupt or a pytest-timeout: the caller's __exit__ will not run.
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last_error: BaseException | None = None
        for _ in range(int(self.ready_timeout / _POLL_INTERVAL_S) + 2):
            if self._leader_exited():
                self._fail(f"exited with {self._exit_status()} before becoming ready")
            try:
                if self._ready():
                    return
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # A refused, reset or garbled probe only means "not ready yet".
                last_error = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_INTERVAL_S)
        self._fail(f"not ready after {self.ready_timeout:.0f}s (last probe error: {last_error!r})")

    def _fail(self, reason: str) -> NoReturn:
        self.stop()  # first, so the log tail includes the shutdown
        raise RuntimeError(f"{self.name} {reason}; log {self.log_path}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stops the process group: SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        try:
            if not self._leader_exited():
                self._signal_group(signal.SIGTERM)
                if not self._wait_leader_exit(self.stop_timeout):
                    self._signal_group(signal.SIGKILL)
                    self._wait_leader_exit(5.0)
            # The unreaped leader still owns the group id, so this cannot hit a reused id;
            # it ends children that ignored SIGTERM or outlived the leader.
            self._signal_group(signal.SIGKILL)
            survivors = _wait_group_gone(proc.pid, 5.0)
            proc.wait(timeout=5.0)
        finally:
            self._proc = None
            self._close_log()
        if survivors:
            raise RuntimeError(f"{self.name}: pids {survivors} survived SIGKILL")

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _leader_exited(self) -> bool:
        # waitid(WNOWAIT) observes the exit without reaping, keeping the group id reserved.
        assert self._proc is not None
        if self._proc.returncode is not None:
            return True
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        try:
            return os.waitid(os.P_PID, self._proc.pid, flags) is not None
        except ChildProcessError:
            return True

    def _wait_leader_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 2):
            if self._leader_exited():
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        return self._leader_exited()

    def _exit_status(self) -> str:
        assert self._proc is not None
        code = self._proc.poll()
        return f"exit code {code}" if code is not None else "unknown status"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Returns the last ``lines`` lines of the log file (empty if there is none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Server:
    """Shared start/stop/context-manager plumbing around one ManagedProcess."""

    process: ManagedProcess

    @property
    def log_path(self) -> Path:
        """The server's combined stdout/stderr log."""
        return self.process.log_path

    @property
    def pid(self) -> int | None:
        """PID of the running server, else None."""
        return self.process.pid

    def start(self) -> None:
        """Starts the server (again, on the same ports) and waits until it is ready."""
        self.process.start()

    def stop(self) -> None:
        """Stops the server and everything it spawned; it can be started again."""
        self.process.stop()

    def restart(self) -> None:
        """Stops and starts the server on the same ports."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ------------------------------------------------------------------------------ livekit


class LiveKitServer(_Server):
    """A dev-mode ``livekit-server`` on loopback, with fixed free ports for its lifetime.

    Attributes:
        url: Signal URL for clients, ``ws://127.0.0.1:<port>``.
        http_url: Same endpoint over HTTP (server API).
        api_key: API key accepted by the server.
        api_secret: Secret for ``api_key``.
        port: HTTP/WebSocket port.
        rtc_tcp_port: ICE/TCP port.
        rtc_udp_range: Inclusive ICE/UDP port range.
        prometheus_port: Port of the server's own Prometheus metrics.
        prometheus_url: ``http://127.0.0.1:<prometheus_port>/metrics``.
        config_path: The generated YAML config.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        udp_ports: int = 20,
        extra_config: Mapping[str, Any] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        """Allocates ports and writes the config; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the config file and the log.
            udp_ports: Size of the ICE/UDP port range.
            extra_config: Top-level keys merged over the generated config (shallow).
            ready_timeout: Seconds to wait for the server to answer HTTP.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.rtc_tcp_port, self.prometheus_port = _free_tcp_ports(3)
        self.rtc_udp_range = free_udp_port_range(udp_ports)
        self.api_key = LIVEKIT_API_KEY
        self.api_secret = LIVEKIT_API_SECRET
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http_url = f"http://127.0.0.1:{self.port}"
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}/metrics"
        config: dict[str, Any] = {
            "port": self.port,
            "bind_addresses": ["127.0.0.1"],
            "rtc": {
                "tcp_port": self.rtc_tcp_port,
                "port_range_start": self.rtc_udp_range[0],
                "port_range_end": self.rtc_udp_range[1],
                # A fixed node_ip with use_external_ip off means no STUN lookups at all.
                "use_external_ip": False,
                "node_ip": "127.0.0.1",
                # ICE candidates only on loopback, so media never leaves the host either.
                "enable_loopback_candidate": True,
                "ips": {"includes": ["127.0.0.1/32"]},
            },
            "keys": {self.api_key: self.api_secret},
            "prometheus": {"port": self.prometheus_port},
            "logging": {"level": "info"},
        }
        config.update(extra_config or {})
        self.config_path = work_dir / "livekit.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = ManagedProcess(
            "livekit-server",
            [
                str(binary("livekit-server")),
                "--dev",
                "--bind",
                "127.0.0.1",
                "--config",
                str(self.config_path),
            ],
            log_dir=work_dir,
            ready=_http_ok(f"{self.http_url}/"),
            ready_timeout=ready_timeout,
        )


# ---------------------------------------------------------------------------- collector


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "stringValue": str,
    "boolValue": bool,
    # OTLP/JSON encodes int64 as a decimal string.
    "intValue": int,
    "doubleValue": float,
    "bytesValue": base64.b64decode,
}


def _any_value(value: Mapping[str, Any]) -> Any:
    # An OTLP/JSON AnyValue carries exactly one typed field.
    for field, convert in _SCALARS.items():
        if field in value:
            return convert(value[field])
    if "arrayValue" in value:
        return [_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None


def _attributes(items: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _any_value(item.get("value", {})) for item in items or []}


def parse_otlp_json_spans(text: str) -> list[Span]:
    """Flattens OTLP/JSON trace lines (as written by the Collector's file exporter).

    Args:
        text: Newline-delimited OTLP/JSON ``TracesData`` documents. A trailing partial line
            (a write in progress) is ignored.

    Returns:
        One dict per span with ``name``, ``trace_id``, ``span_id``, ``parent_span_id`` (hex,
        "" for roots), ``kind`` (int), ``status_code`` ("UNSET", "OK" or "ERROR"),
        ``status_message``, ``start_time_unix_nano``/``end_time_unix_nano`` (int),
        ``attributes`` and ``resource`` (flat dicts of Python values), ``events`` (list of
        ``{"name", "attributes"}``) and ``scope`` (instrumentation scope name).
    """
    spans: list[Span] = []
    lines = text.split("\n")
    for line in lines[:-1]:  # the last element is "" or an incomplete line
        if not line.strip():
            continue
        doc = json.loads(line)
        for resource_spans in doc.get("resourceSpans", []):
            resource = _attributes(resource_spans.get("resource", {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans", []):
                scope = scope_spans.get("scope", {}).get("name", "")
                for span in scope_spans.get("spans", []):
                    status = span.get("status", {})
                    spans.append(
                        {
                            "name": span.get("name", ""),
                            "trace_id": span.get("traceId", ""),
                            "span_id": span.get("spanId", ""),
                            "parent_span_id": span.get("parentSpanId", ""),
                            "kind": int(span.get("kind", 0)),
                            "status_code": _STATUS_CODES.get(int(status.get("code", 0)), "UNSET"),
                            "status_message": status.get("message", ""),
                            "start_time_unix_nano": int(span.get("startTimeUnixNano", 0)),
                            "end_time_unix_nano": int(span.get("endTimeUnixNano", 0)),
                            "attributes": _attributes(span.get("attributes")),
                            "events": [
                                {
                                    "name": event.get("name", ""),
                                    "attributes": _attributes(event.get("attributes")),
                                }
                                for event in span.get("events", [])
                            ],
                            "resource": resource,
                            "scope": scope,
                        }
                    )
    return spans


class OtelCollector(_Server):
    """The test Collector running the shipped config plus a file exporter for assertions.

    Attributes:
        otlp_grpc_endpoint: ``http://127.0.0.1:<port>`` for OTLP/gRPC exporters.
        otlp_http_endpoint: ``http://127.0.0.1:<port>`` base URL for OTLP/HTTP exporters
            (per-signal exporters need ``/v1/traces`` appended).
        health_url: The health_check extension's URL.
        metrics_url: The Collector's own Prometheus metrics.
        metrics_target: ``127.0.0.1:<port>`` of ``metrics_url``, for scrape configs.
        spans_file: Where received spans are written as OTLP/JSON lines.
        tempo_endpoint: Where traces are also forwarded, or None.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        tempo_endpoint: str | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        """Allocates ports and writes the override config; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the override config, the spans file and the log.
            tempo_endpoint: ``host:port`` of a real Tempo OTLP/gRPC receiver to forward
                traces to as well; by default traces only go to ``spans_file``.
            ready_timeout: Seconds to wait for the health check to pass.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        grpc_port, http_port, health_port, metrics_port, unused_port = _free_tcp_ports(5)
        self.otlp_grpc_endpoint = f"http://127.0.0.1:{grpc_port}"
        self.otlp_http_endpoint = f"http://127.0.0.1:{http_port}"
        self.health_url = f"http://127.0.0.1:{health_port}/"
        self.metrics_target = f"127.0.0.1:{metrics_port}"
        self.metrics_url = f"http://{self.metrics_target}/metrics"
        self.tempo_endpoint = tempo_endpoint
        self.spans_file = work_dir / "spans.jsonl"
        exporters = ["file/spans"]
        if tempo_endpoint is not None:
            exporters.insert(0, "otlp_grpc/tempo")
        override = {
            "exporters": {
                "file/spans": {
                    "path": str(self.spans_file),
                    # Spans from before a restart must stay readable.
                    "append": True,
                    # Without it the exporter only flushes whole 4 KiB buffers.
                    "flush_interval": "100ms",
                }
            },
            "processors": {"batch": {"timeout": "100ms"}},
            # Lists are replaced, not merged, by the Collector's config merge.
            "service": {"pipelines": {"traces": {"exporters": exporters}}},
        }
        self.config_path = work_dir / "collector-override.yaml"
        self.config_path.write_text(yaml.safe_dump(override, sort_keys=False))
        env = {
            "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
            "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
            "HEALTH_CHECK_ENDPOINT": f"127.0.0.1:{health_port}",
            "COLLECTOR_METRICS_HOST": "127.0.0.1",
            "COLLECTOR_METRICS_PORT": str(metrics_port),
            # Even unused, the shipped exporter must not name a host outside loopback.
            "TEMPO_OTLP_ENDPOINT": tempo_endpoint or f"127.0.0.1:{unused_port}",
        }
        self.process = ManagedProcess(
            "otelcol",
            [
                str(binary("otelcol")),
                "--config",
                str(COLLECTOR_CONFIG),
                "--config",
                str(self.config_path),
            ],
            log_dir=work_dir,
            ready=_http_ok(self.health_url),
            env=env,
            ready_timeout=ready_timeout,
        )

    def read_spans(self) -> list[Span]:
        """Returns every span written so far (see ``parse_otlp_json_spans`` for the shape)."""
        try:
            text = self.spans_file.read_text()
        except FileNotFoundError:
            return []
        return parse_otlp_json_spans(text)

    def wait_for_spans(
        self, min_count: int = 1, *, name: str | None = None, timeout: float = 15.0
    ) -> list[Span]:
        """Polls ``read_spans()`` until enough (optionally same-named) spans have arrived.

        Args:
            min_count: Number of matching spans to wait for.
            name: Only count spans with this name.
            timeout: Seconds before giving up.

        Returns:
            The matching spans.

        Raises:
            TimeoutError: If fewer than ``min_count`` matching spans arrived in time.
        """
        deadline = time.monotonic() + timeout
        matching: list[Span] = []
        for _ in range(int(timeout / _POLL_INTERVAL_S) + 2):
            matching = [s for s in self.read_spans() if name is None or s["name"] == name]
            if len(matching) >= min_count or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_INTERVAL_S)
        if len(matching) < min_count:
            raise TimeoutError(
                f"{len(matching)}/{min_count} spans named {name!r} after {timeout}s; "
                f"collector log {self.log_path}:\n{self.process.log_tail()}"
            )
        return matching


# --------------------------------------------------------------------------- prometheus


class Prometheus(_Server):
    """A throwaway Prometheus scraping the given targets, with an HTTP query helper.

    Only flags and config keys common to Prometheus 2.x and 3.x are used.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        config_path: The generated prometheus.yml.
        targets: The ``(job_name, host:port)`` pairs being scraped.
    """

    def __init__(
        self,
        work_dir: Path,
        targets: Sequence[tuple[str, str]],
        *,
        scrape_interval: float = 1.0,
        rule_files: Sequence[Path] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        """Writes the config; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the config, the TSDB and the log.
            targets: ``(job_name, "host:port")`` pairs; a job may appear several times.
            scrape_interval: Seconds between scrapes (also the rule evaluation interval).
            rule_files: Recording/alerting rule files to load.
            ready_timeout: Seconds to wait for ``/-/ready``.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets = list(targets)
        interval = f"{max(1, round(scrape_interval * 1000))}ms"
        jobs: dict[str, list[str]] = {}
        for job, target in self.targets:
            jobs.setdefault(job, []).append(target)
        config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(Path(p).resolve()) for p in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": job_targets}]}
                for job, job_targets in jobs.items()
            ],
        }
        self.config_path = work_dir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = ManagedProcess(
            "prometheus",
            [
                str(binary("prometheus")),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={work_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                # the worker's latency histograms carry trace_id exemplars
                "--enable-feature=exemplar-storage",
            ],
            log_dir=work_dir,
            ready=_http_ok(f"{self.url}/-/ready"),
            ready_timeout=ready_timeout,
        )

    def _api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = _http_get(f"{self.url}{path}{query}", timeout=10.0)
        payload = json.loads(body) if body else {}
        if status != 200 or payload.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} returned HTTP {status}: {body[:500]!r}")
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Runs an instant query.

        Args:
            expr: PromQL expression.

        Returns:
            The result list: for a vector, ``[{"metric": {...}, "value": [ts, "v"]}, ...]``.

        Raises:
            RuntimeError: If Prometheus rejects the query.
        """
        data = self._api("/api/v1/query", {"query": expr})
        result = data.get("result", [])
        # Scalars and strings come back as a bare [ts, "v"] pair; wrap for a uniform type.
        return list(result) if data.get("resultType") in ("vector", "matrix") else [result]

    def query_exemplars(self, expr: str, seconds: float = 600.0) -> list[dict[str, Any]]:
        """The exemplars of the series ``expr`` selects, over the last ``seconds``."""
        end = time.time()
        params = {"query": expr, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}"}
        return list(self._api("/api/v1/query_exemplars", params))

    def wait_for_targets_up(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Waits until every configured target has been scraped successfully.

        Args:
            timeout: Seconds before giving up.

        Returns:
            The active targets as reported by ``/api/v1/targets``.

        Raises:
            TimeoutError: If some target is not up in time (message lists their errors).
        """
        deadline = time.monotonic() + timeout
        active: list[dict[str, Any]] = []
        for _ in range(int(timeout / 0.25) + 2):
            active = list(self._api("/api/v1/targets", {"state": "active"})["activeTargets"])
            if len(active) >= len(self.targets) and all(t["health"] == "up" for t in active):
                return active
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        report = [(t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in active]
        raise TimeoutError(f"targets not all up after {timeout}s: {report}")
