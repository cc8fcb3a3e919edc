"""What the benchmark ran on: cores, CPU model, memory, and the software versions."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

__all__ = ["describe_machine", "machine_counters"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> dict[str, Any]:
    """The machine and software the figures belong to."""
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "livekit_agents": version("livekit-agents"),
        "livekit_rtc": version("livekit"),
        "opentelemetry_sdk": version("opentelemetry-sdk"),
        "prometheus_client": version("prometheus-client"),
    }


def machine_counters(
    vmstat: Path = Path("/proc/vmstat"), stat: Path = Path("/proc/stat")
) -> dict[str, float]:
    """Machine-wide counters that slow every process at once, so that a run can tell a
    stall of the machine from one of the worker: major page faults so far (pages read back
    from disk, such as a shared library's pages the kernel reclaimed) and CPU time stolen
    by the hypervisor (seconds, all CPUs). Empty where the files are not Linux's."""
    counters: dict[str, float] = {}
    try:
        for line in vmstat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "pgmajfault":
                counters["major_faults"] = float(value)
        fields = stat.read_text().splitlines()[0].split()
        if fields[0] == "cpu" and len(fields) > 8:
            counters["steal_s"] = int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return {}
    return counters
