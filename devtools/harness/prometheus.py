"""A throwaway Prometheus scraping given targets, with an HTTP query helper."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .binaries import binary
from .ports import free_port
from .probes import http_get, http_ok
from .processes import ManagedProcess
from .servers import ManagedServer

__all__ = ["Prometheus"]


class Prometheus(ManagedServer):
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
        config: Mapping[str, Any] | None = None,
        expected_targets: int | None = None,
    ) -> None:
        """Writes the config; nothing runs until ``start()``.

        Args:
            work_dir: Directory for the config, the TSDB and the log.
            targets: ``(job_name, "host:port")`` pairs; a job may appear several times.
            scrape_interval: Seconds between scrapes (also the rule evaluation interval).
            rule_files: Recording/alerting rule files to load.
            ready_timeout: Seconds to wait for ``/-/ready``.
            config: A whole configuration instead of the generated one (``targets``,
                ``scrape_interval`` and ``rule_files`` are then not used for it), e.g. one
                with file-based service discovery.
            expected_targets: How many targets ``wait_for_targets_up`` waits for, by
                default ``len(targets)``.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets = list(targets)
        self.expected_targets = len(self.targets) if expected_targets is None else expected_targets
        interval = f"{max(1, round(scrape_interval * 1000))}ms"
        jobs: dict[str, list[str]] = {}
        for job, target in self.targets:
            jobs.setdefault(job, []).append(target)
        generated = {
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
        self.config_path.write_text(yaml.safe_dump(dict(config or generated), sort_keys=False))
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
            ready=http_ok(f"{self.url}/-/ready"),
            ready_timeout=ready_timeout,
        )

    def _api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(f"{self.url}{path}{query}", timeout=10.0)
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

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups with each rule's health and state (``/api/v1/rules``)."""
        return list(self._api("/api/v1/rules")["groups"])

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
            if len(active) >= self.expected_targets and all(t["health"] == "up" for t in active):
                return active
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        report = [(t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in active]
        raise TimeoutError(f"targets not all up after {timeout}s: {report}")
