"""The worker as a real subprocess, for end-to-end tests and the benchmark.

``python -m worker dev|start`` runs in its own process group with its output in a log file;
the helpers read that output, its metrics and its health, and stop it the way an operator
or an orchestrator would (SIGTERM, SIGINT). Whatever a test does, the group is killed when
the context exits, so no process outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, Self

import httpx
import psutil

from .lifecycle import StartStop
from .paths import REPO_ROOT
from .ports import free_ports
from .probes import wait_until
from .sdk_logs import REGISTERED_WORKER

__all__ = ["ServerCredentials", "WorkerProcess"]


class ServerCredentials(Protocol):
    """A LiveKit server and the credentials to use it (a LiveKitServer, a ServerAccess)."""

    @property
    def url(self) -> str:
        """The signal URL."""

    @property
    def api_key(self) -> str:
        """The API key."""

    @property
    def api_secret(self) -> str:
        """The key's secret."""


_SETTINGS_VARIABLES = (
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "AGENT_NAME",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HEALTH_PORT",
    "METRICS_PORT",
    "BIND_HOST",
    "PROMETHEUS_MULTIPROC_DIR",
    "ALLOW_PII",
    "AGENT_DEPARTURE_TIMEOUT",
)


class WorkerProcess(StartStop):
    """``python -m worker <command>`` with its own ports, metrics directory and log.

    Args:
        livekit_url: the LiveKit server.
        api_key: its API key.
        api_secret: its secret.
        work_dir: where the log goes.
        command: ``dev`` or ``start``.
        env: more variables (settings, ``OTEL_*``).
        module: the module to run (the benchmark runs a bare SDK worker the same way).
    """

    def __init__(
        self,
        livekit_url: str,
        api_key: str,
        api_secret: str,
        work_dir: Path,
        *,
        command: str = "dev",
        env: Mapping[str, str] | None = None,
        module: str = "worker",
    ) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        # distinct: two separate free_port() calls may return the same port
        self.health_port, self.metrics_port = free_ports(2)
        # a short path: the observation socket lives in it and Unix socket paths are short
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="lkw-"))
        self.log_path = work_dir / f"{module.replace('.', '-')}-{command}.log"
        self.command = command
        inherited = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARIABLES}
        inherited = {k: v for k, v in inherited.items() if not k.startswith("OTEL_")}
        self.env = {
            **inherited,
            "PYTHONPATH": str(REPO_ROOT),
            "LIVEKIT_URL": livekit_url,
            "LIVEKIT_API_KEY": api_key,
            "LIVEKIT_API_SECRET": api_secret,
            "ALLOW_DEV_CREDENTIALS_IN_PRODUCTION": "true",
            "HEALTH_PORT": str(self.health_port),
            "METRICS_PORT": str(self.metrics_port),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "WORKER_NUM_IDLE_PROCESSES": "1",
            # the SDK's CPU-based load counts the whole test machine, and the server stops
            # dispatching near load 1; count jobs instead
            "WORKER_MAX_JOBS": "100",
            # jobs end as soon as the server agrees their room is empty, as the tests of
            # other behaviours expect; the departure tests set their own grace period
            "AGENT_DEPARTURE_TIMEOUT": "0",
            "OTEL_TRACES_EXPORTER": "none",
            **(env or {}),
        }
        self.argv = [sys.executable, "-m", module, command]
        self.process: subprocess.Popen[bytes] | None = None
        self._known_pids: set[int] = set()

    @classmethod
    def serving(
        cls,
        server: ServerCredentials,
        work_dir: Path,
        *,
        command: str = "dev",
        env: Mapping[str, str] | None = None,
        module: str = "worker",
    ) -> Self:
        """The worker for ``server``, with its credentials (the other arguments as above)."""
        return cls(
            server.url,
            server.api_key,
            server.api_secret,
            work_dir,
            command=command,
            env=env,
            module=module,
        )

    @property
    def health_url(self) -> str:
        """The SDK's health endpoint."""
        return f"http://127.0.0.1:{self.health_port}/"

    @property
    def metrics_url(self) -> str:
        """The worker's metrics endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, *, wait_registered: float | None = 60.0) -> None:
        """Start the worker; wait until it registered with LiveKit unless told not to."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env=self.env,
                start_new_session=True,
            )
        if wait_registered is not None:
            self.wait_for_line(re.escape(REGISTERED_WORKER), timeout=wait_registered)
            wait_until(self._metrics_up, wait_registered, what="metrics endpoint")

    def _metrics_up(self) -> bool:
        try:
            return "agent_worker_registered 1.0" in self.scrape()
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def lines(self) -> list[str]:
        """The worker's output lines."""
        return self.output().splitlines()

    def wait_for_line(self, pattern: str, timeout: float = 30.0, count: int = 1) -> list[str]:
        """Wait until ``count`` output lines match the regular expression ``pattern``."""
        regex = re.compile(pattern)

        def matching() -> list[str]:
            found = [line for line in self.lines() if regex.search(line)]
            if self.process is not None and self.process.poll() is not None and len(found) < count:
                raise RuntimeError(f"worker exited ({self.process.returncode}):\n{self.tail()}")
            return found if len(found) >= count else []

        try:
            result: list[str] = wait_until(matching, timeout, what=pattern)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n--- worker output:\n{self.tail()}") from None
        return result

    def tail(self, lines: int = 80) -> str:
        """The last lines of output."""
        return "\n".join(self.lines()[-lines:])

    def scrape(self, accept: str = "text/plain") -> str:
        """GET /metrics."""
        response = httpx.get(self.metrics_url, headers={"Accept": accept}, timeout=10)
        response.raise_for_status()
        return response.text

    def descendants(self) -> set[int]:
        """Pids of every process the worker started (remembered for the leak check)."""
        if self.process is None:
            return set()
        try:
            pids = {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pids = set()
        self._known_pids |= pids
        return pids

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the worker's main process only, as an orchestrator does."""
        assert self.process is not None
        self.descendants()
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the main process to exit and return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def leaked(self, grace: float = 15.0) -> list[int]:
        """Processes the worker started that are still alive (not zombies) after ``grace``
        seconds; the SDK's forkserver exits a moment after the worker itself."""

        def alive() -> list[int]:
            pids = []
            for pid in self._known_pids:
                try:
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        pids.append(pid)
                except psutil.NoSuchProcess:
                    continue
            return pids

        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not alive(), grace, what="children exited")
        return alive()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stop the worker with ``sig``; kill the whole group if it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.send(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group and every remembered descendant."""
        if self.process is None:
            return
        self.descendants()
        for pid in [self.process.pid, *self._known_pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self, *, timeout: float = 20.0) -> None:
        """Stops the worker (SIGTERM, ``timeout`` seconds to exit), kills whatever of its
        group survived, and removes its metrics directory (outside the test's own directory,
        as its socket path must be short, so nothing else would)."""
        try:
            self.stop(timeout=timeout)
        finally:
            self.kill()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
