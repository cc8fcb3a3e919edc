"""Server processes in their own process group, with a log file, a readiness check and a
bounded shutdown that also ends everything they spawned."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from .lifecycle import StartStop
from .paths import REPO_ROOT

__all__ = ["LOG_TAIL_LINES", "ManagedProcess", "log_tail", "run_module_json"]

LOG_TAIL_LINES = 60
_POLL_INTERVAL_S = 0.1


def run_module_json(module: str, *args: str, timeout: float) -> dict[str, Any]:
    """Runs ``python -m <module> <args>`` in the repository; its last stdout line is JSON.

    Args:
        module: The module to run.
        *args: Its arguments.
        timeout: Seconds before the run is abandoned.

    Returns:
        The object its last line of output holds.

    Raises:
        subprocess.CalledProcessError: It exited with an error.
        subprocess.TimeoutExpired: It ran longer than ``timeout``.
    """
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Returns the last ``lines`` lines of the file at ``path`` (empty if there is none)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


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


class ManagedProcess(StartStop):
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

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Returns the last ``lines`` lines of the log file (empty if there is none)."""
        return log_tail(self.log_path, lines)
