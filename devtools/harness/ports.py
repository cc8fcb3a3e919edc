"""Free loopback ports: the one place tests, the bench and the dev tools pick them."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "free_ports", "free_udp_port_range", "occupied_port"]

_LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Returns ``count`` distinct TCP ports that are currently free on 127.0.0.1.

    All sockets stay open until every port is picked, so one call never repeats a port
    (two separate ``free_port()`` calls may).
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((_LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    """Returns a TCP port that is currently free on 127.0.0.1 (nothing listens there)."""
    return free_ports(1)[0]


@contextmanager
def occupied_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that something listens on until the block exits."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((_LOOPBACK, 0))
        taken.listen()
        yield int(taken.getsockname()[1])


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
        if _udp_range_free(start, n):
            return start, start + n - 1
    raise RuntimeError(f"no {n} consecutive free UDP ports found in {attempts} attempts")


def _udp_range_free(start: int, n: int) -> bool:
    socks: list[socket.socket] = []
    try:
        for port in range(start, start + n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            # The wildcard bind fails if the port is taken on any address.
            sock.bind(("0.0.0.0", port))
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
    return True
