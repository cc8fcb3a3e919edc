"""A throwaway Redis on loopback: the state a LiveKit cluster's nodes share."""

from __future__ import annotations

import socket
from pathlib import Path

from .binaries import binary
from .ports import free_port
from .processes import ManagedProcess
from .servers import ManagedServer

__all__ = ["RedisServer"]


def _pings(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64).startswith(b"+PONG")


class RedisServer(ManagedServer):
    """Debian's ``redis-server`` on a free loopback port, without persistence.

    Nothing is saved to disk, so a restart starts empty, as a Redis that lost its state
    does: what the cluster keeps there must come back from the nodes themselves.

    Attributes:
        port: The TCP port.
        address: ``127.0.0.1:<port>``, as livekit-server's ``redis.address`` takes it.
    """

    def __init__(self, work_dir: Path, *, ready_timeout: float = 30.0) -> None:
        """Allocates the port; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the log (and Redis's working directory).
            ready_timeout: Seconds to wait for an answer to PING.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            "redis",
            [
                str(binary("redis-server")),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(work_dir),
            ],
            log_dir=work_dir,
            ready=lambda: _pings(self.port),
            ready_timeout=ready_timeout,
        )
