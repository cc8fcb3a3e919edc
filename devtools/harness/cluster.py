"""A LiveKit cluster on loopback: one Redis and several livekit-server nodes sharing it.

Each node has its own ports (HTTP/WebSocket, ICE/TCP, a small ICE/UDP range, metrics) and
the same non-dev API key, as a production cluster's nodes do. A room created through any
node's API may be hosted on any node; a worker registered with any node may be given any
room's job (the nodes ask each other over Redis, see ``devtools.harness.fleet``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from devtools.synthetic import ServerAccess

from .lifecycle import StartStop
from .livekit import LiveKitServer
from .redis import RedisServer

__all__ = ["CLUSTER_API_KEY", "LiveKitCluster"]

CLUSTER_API_KEY = "fleet-key"
"""The cluster's API key: not the dev key, so workers in production mode accept it as is."""


class LiveKitCluster(StartStop):
    """Redis plus ``nodes`` livekit-server nodes; ``with`` starts and stops all of them.

    Attributes:
        redis: The shared Redis.
        nodes: The livekit-server nodes, each with its own ports.
        api_key: The key every node accepts.
        api_secret: Its secret (random, 32 bytes, per cluster).
    """

    def __init__(self, work_dir: Path, *, nodes: int = 2, udp_ports: int = 10) -> None:
        """Allocates ports and writes configs; nothing runs until ``start()``.

        Args:
            work_dir: One subdirectory per server goes here.
            nodes: How many livekit-server nodes.
            udp_ports: Size of each node's ICE/UDP range.
        """
        self.api_key = CLUSTER_API_KEY
        self.api_secret = secrets.token_hex(32)
        self.redis = RedisServer(work_dir / "redis")
        self.nodes = [
            LiveKitServer(
                work_dir / f"node{index}",
                udp_ports=udp_ports,
                redis_address=self.redis.address,
                keys=(self.api_key, self.api_secret),
            )
            for index in range(nodes)
        ]

    def access(self, node: int) -> ServerAccess:
        """How clients and the API reach node ``node``."""
        server = self.nodes[node]
        return ServerAccess(server.url, server.api_key, server.api_secret)

    def start(self) -> None:
        """Starts Redis, then every node; stops what started if one fails."""
        try:
            self.redis.start()
            for node in self.nodes:
                node.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stops every node, then Redis."""
        try:
            for node in self.nodes:
                node.stop()
        finally:
            self.redis.stop()
