"""Where a bench writes its results: ``bench/results/`` and, from there only, the README.

A run that writes to ``RESULTS_DIR`` publishes: its markdown replaces the figures between
the README's markers. A run elsewhere (a quick run, ``--out``) leaves the README alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["README", "RESULTS_DIR", "write_results"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = RESULTS_DIR.parent.parent / "README.md"


def write_results(
    out: Path,
    name: str,
    results: Mapping[str, Any],
    render: Callable[[Mapping[str, Any]], str],
    embed: Callable[[str, str], str],
) -> None:
    """Write ``<name>.json`` and ``<name>.md`` (``render(results)``) to ``out``, embed the
    markdown in the README (``embed(markdown, readme)``) when ``out`` is ``RESULTS_DIR``,
    and print it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render(results)
    (out / f"{name}.md").write_text(markdown)
    if out.resolve() == RESULTS_DIR:
        README.write_text(embed(markdown, README.read_text()))
    print(markdown)
