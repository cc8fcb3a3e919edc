"""Writing a bench's results: JSON and markdown, and the README only from ``bench/results``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench import published
from bench.published import write_results


def _render(results: Mapping[str, Any]) -> str:
    return f"| rooms | {results['rooms']} |\n"


def _embed(markdown: str, document: str) -> str:
    return document.replace("FIGURES", markdown)


def test_a_run_elsewhere_writes_its_files_and_leaves_the_readme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("before FIGURES after\n")
    monkeypatch.setattr(published, "README", readme)
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "results")
    out = tmp_path / "quick"
    write_results(out, "latest", {"rooms": 3}, _render, _embed)
    assert json.loads((out / "latest.json").read_text()) == {"rooms": 3}
    assert (out / "latest.md").read_text() == "| rooms | 3 |\n"
    assert readme.read_text() == "before FIGURES after\n"
    assert capsys.readouterr().out == "| rooms | 3 |\n\n"


def test_a_run_in_the_results_directory_publishes_to_the_readme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("before FIGURES after\n")
    monkeypatch.setattr(published, "README", readme)
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "results")
    write_results(tmp_path / "results", "fleet", {"rooms": 5}, _render, _embed)
    assert (tmp_path / "results" / "fleet.json").read_text() == '{\n  "rooms": 5\n}\n'
    assert readme.read_text() == "before | rooms | 5 |\n after\n"
