"""The test OpenTelemetry Collector: the shipped config plus a file exporter to assert on."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from .binaries import binary
from .otlp import Span, parse_otlp_json_spans
from .paths import COLLECTOR_CONFIG
from .ports import free_ports
from .probes import http_ok
from .processes import ManagedProcess
from .servers import ManagedServer

__all__ = ["OtelCollector"]

_POLL_INTERVAL_S = 0.1


class OtelCollector(ManagedServer):
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
        grpc_port, http_port, health_port, metrics_port, unused_port = free_ports(5)
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
            ready=http_ok(self.health_url),
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
