"""The only modules that touch private names of the libraries the project builds on.

One module per library: :mod:`.lk_agents` (livekit-agents), :mod:`.otel_sdk`
(opentelemetry-sdk), :mod:`.otlp_exporter` (the OTLP span exporters) and
:mod:`.prom_client` (prometheus_client). Each offers small public
functions to the rest of the project, notes at every private name why it is used and the
version it was verified on, and lists in ``REQUIREMENTS`` everything it relies on, so that
``check()`` (run by one fast test per seam) names what an upgrade removed or changed.

Importing this package imports none of the libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version

__all__ = ["Requirement", "problems"]


@dataclass(frozen=True)
class Requirement:
    """One private name a seam relies on, and how to tell it is still what the seam expects.

    Attributes:
        name: the name as the message shows it, e.g. ``AgentServer._proc_pool``.
        expected: what the seam expects of it, e.g. ``a ProcPool with .on()``.
        holds: True while the installed library still provides it as expected.
    """

    name: str
    expected: str
    holds: Callable[[], bool]


def problems(distribution: str, seam: str, requirements: Iterable[Requirement]) -> list[str]:
    """One line per requirement the installed ``distribution`` no longer meets.

    Args:
        distribution: the library's distribution name, e.g. ``livekit-agents``.
        seam: the seam module's path, e.g. ``telemetry/seams/lk_agents.py``.
        requirements: what the seam relies on.

    Returns:
        The lines, empty when every requirement holds.
    """
    installed = version(distribution)
    lines = []
    for requirement in requirements:
        try:
            holds = requirement.holds()
        except Exception:  # a name that is gone raises; that is a failed requirement too
            holds = False
        if not holds:
            lines.append(
                f"{distribution} {installed}: {requirement.name} is gone or changed (expected "
                f'{requirement.expected}); see {seam} and the README\'s "Upgrading the SDK" '
                "checklist"
            )
    return lines
