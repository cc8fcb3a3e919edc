"""livekit-server on loopback, on free ports: alone in dev mode, or a node of a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .binaries import binary
from .ports import free_ports, free_udp_port_range
from .probes import http_ok
from .processes import ManagedProcess
from .servers import ManagedServer

__all__ = ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LiveKitServer"]

# livekit-server --dev's fixed credentials
LIVEKIT_API_KEY = "devkey"
LIVEKIT_API_SECRET = "secret"


class LiveKitServer(ManagedServer):
    """A ``livekit-server`` on loopback, with fixed free ports for its lifetime.

    Alone it runs in dev mode with the dev credentials. Given a Redis address it is one node
    of a cluster: the nodes sharing that Redis share rooms, and the agent workers
    registered with any of them (its ``--dev`` flag is then off, and ``keys`` must be given).

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
        redis_address: str | None = None,
        keys: tuple[str, str] | None = None,
    ) -> None:
        """Allocates ports and writes the config; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the config file and the log.
            udp_ports: Size of the ICE/UDP port range.
            extra_config: Top-level keys merged over the generated config (shallow).
            ready_timeout: Seconds to wait for the server to answer HTTP.
            redis_address: ``host:port`` of the Redis this node shares with its cluster.
            keys: ``(api_key, api_secret)`` instead of the dev credentials.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.rtc_tcp_port, self.prometheus_port = free_ports(3)
        self.rtc_udp_range = free_udp_port_range(udp_ports)
        self.api_key, self.api_secret = keys or (LIVEKIT_API_KEY, LIVEKIT_API_SECRET)
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
        if redis_address is not None:
            config["redis"] = {"address": redis_address}
        config.update(extra_config or {})
        self.config_path = work_dir / "livekit.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = ManagedProcess(
            "livekit-server",
            [
                str(binary("livekit-server")),
                *(["--dev"] if redis_address is None else []),
                "--bind",
                "127.0.0.1",
                "--config",
                str(self.config_path),
            ],
            log_dir=work_dir,
            ready=http_ok(f"{self.http_url}/"),
            ready_timeout=ready_timeout,
        )
