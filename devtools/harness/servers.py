"""What every managed server shares: one ManagedProcess, its log and its lifecycle."""

from __future__ import annotations

from pathlib import Path

from .lifecycle import StartStop
from .processes import ManagedProcess

__all__ = ["ManagedServer"]


class ManagedServer(StartStop):
    """Start/stop/restart around one ManagedProcess; subclasses build ``process``."""

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
