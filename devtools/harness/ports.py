"""Free loopback ports: the one place tests, the bench and the dev tools pick them."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "free_ports", "free_udp_port_range", "occupied_port"]

_LOOPBACK = "127.0.0.1"


# below the kernel's ephemeral range (32768+ on Linux): a port picked here is never the
# source port the kernel hands an outgoing connection, so a server stopped and started again
# on its ports (the fault tests do) finds them free
_PICK_RANGE = (20000, 32000)
_PICK_ATTEMPTS = 500
# every port this process handed out: a later call never repeats one, even after the first
# caller's server stopped (its port may be about to be bound again)
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """Returns ``count`` distinct TCP ports that are currently free on 127.0.0.1.

    The ports are picked below the ephemeral range, and never one this process handed out
    before.

    Raises:
        RuntimeError: not enough free ports were found.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(_PICK_ATTEMPTS):
            if len(socks) == count:
                break
            port = random.randint(*_PICK_RANGE)
            if port in _handed_out:
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((_LOOPBACK, port))
            except OSError:
                sock.close()
                continue
            socks.append(sock)
            _handed_out.add(port)
        if len(socks) < count:
            raise RuntimeError(f"found {len(socks)} of {count} free TCP ports")
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
        start = random.randint(_PICK_RANGE[0], _PICK_RANGE[1] - n)
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
