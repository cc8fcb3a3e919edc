"""Read what a running worker exposes: metric samples, sockets, health answers.

Helpers for the end-to-end fault, hostile-input and leak tests; each reads, none changes
the worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import psutil

from .binaries import run_promtool

if TYPE_CHECKING:
    from prometheus_client import Metric

__all__ = [
    "SampleKey",
    "Socket",
    "health_answers",
    "histogram_max",
    "metric_problems",
    "monotonic_samples",
    "samples",
    "sockets_of",
    "value",
    "went_backwards",
]

SampleKey = tuple[str, tuple[tuple[str, str], ...]]

# sample name suffixes that never decrease: counters and histogram observations
_MONOTONIC_SUFFIXES = ("_total", "_count", "_bucket", "_sum")


def _families(text: str) -> Iterable[Metric]:
    # Deferred: prometheus_client picks its mode at import, and a process that runs the
    # worker's code in-process (the bench's micro-benchmark) imports the harness first.
    from prometheus_client.parser import text_string_to_metric_families

    return text_string_to_metric_families(text)


def samples(text: str) -> dict[SampleKey, float]:
    """Every sample of a text-format scrape, keyed by name and sorted labels.

    Raises:
        ValueError: the text is not valid Prometheus text format.
    """
    found: dict[SampleKey, float] = {}
    for family in _families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in found:
                raise ValueError(f"duplicate sample {key}")
            found[key] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The value of one sample; 0 when the series does not exist (yet)."""
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def monotonic_samples(text: str) -> dict[SampleKey, float]:
    """The samples of counters and histograms, which must never decrease."""
    monotonic = {}
    for family in _families(text):
        if family.type not in ("counter", "histogram"):
            continue
        for sample in family.samples:
            if sample.name.endswith(_MONOTONIC_SUFFIXES):
                monotonic[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return monotonic


def went_backwards(before: dict[SampleKey, float], after: dict[SampleKey, float]) -> list[str]:
    """Samples that decreased, or disappeared, between two scrapes."""
    problems = []
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            problems.append(f"{key} disappeared (was {old})")
        elif new < old:
            problems.append(f"{key} went from {old} to {new}")
    return problems


def histogram_max(text: str, name: str, **labels: str) -> tuple[float, float]:
    """The upper bound of the largest observation of a histogram, and how many there were.

    Returns:
        ``(bound, count)``: the smallest bucket bound that holds every observation
        (``inf`` when only ``+Inf`` does) and the observation count.
    """
    label_items = tuple(sorted(labels.items()))
    buckets: list[tuple[float, float]] = []
    count = 0.0
    for (sample_name, sample_labels), sample_value in samples(text).items():
        plain = tuple(item for item in sample_labels if item[0] != "le")
        if plain != label_items:
            continue
        if sample_name == f"{name}_count":
            count = sample_value
        elif sample_name == f"{name}_bucket":
            buckets.append((float(dict(sample_labels)["le"]), sample_value))
    for bound, cumulative in sorted(buckets):
        if cumulative >= count:
            return bound, count
    return float("inf"), count


def metric_problems(text: str) -> list[str]:
    """What ``promtool check metrics`` finds wrong with a scrape of the project's metrics.

    A parse error is always a problem. promtool also lints names; the SDK's own
    ``lk_agents_*`` metrics have lint findings the project cannot change, so only findings
    about other metrics count.
    """
    run = run_promtool("check", "metrics", stdin=text, timeout=60)
    output = (run.stdout + run.stderr).strip()
    if run.returncode not in (0, 3):  # 3: lint findings only
        return [f"promtool exit {run.returncode}: {output}"]
    return [line for line in output.splitlines() if line and not line.startswith("lk_agents_")]


@dataclass(frozen=True)
class Socket:
    """An inet socket of a process."""

    pid: int
    kind: str  # "tcp" or "udp"
    ip: str
    port: int
    status: str


def sockets_of(pids: Iterable[int]) -> list[Socket]:
    """Every inet socket the processes hold (processes that exited meanwhile are skipped)."""
    found = []
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for conn in connections:
            kind = "tcp" if conn.type == 1 else "udp"  # socket.SOCK_STREAM == 1
            found.append(Socket(pid, kind, conn.laddr.ip, conn.laddr.port, conn.status))
    return found


def health_answers(health_url: str) -> str:
    """The bodies of the SDK's ``/`` and ``/worker`` answers, with their status codes."""
    parts = []
    for path in ("", "worker"):
        response = httpx.get(health_url + path, timeout=10)
        parts.append(f"{response.status_code} {response.text}")
    return "\n".join(parts)
