"""The voice bench's markdown and its place in a README, from results of known values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import published
from bench.published import README
from bench.voice_report import BEGIN, END, embed_voice, render_voice
from bench.voice_targets import VoiceRun, evaluate_voice_targets, voice_figures


def _results(affinity: dict[str, list[int]] | None) -> dict[str, Any]:
    bare = [VoiceRun((1.0, 1.0), 2.0), VoiceRun((1.0, 1.0), 2.0)]
    ours = [VoiceRun((0.9, 0.9), 2.0), VoiceRun((1.2, 1.2), 2.2)]
    return {
        "machine": {"cores": 2, "cpu_model": "Test CPU", "livekit_agents": "1.8.9"},
        "method": {
            "rounds": 2,
            "rounds_run": 2,
            "max_rounds": 8,
            "time_budget_s": 1500.0,
            "rooms_per_run": 1,
            "affinity": affinity,
        },
        "figures": voice_figures({"bare": bare, "ours": ours}),
        "targets": evaluate_voice_targets(ours, bare),
        "generated_at": "2026-11-29T12:00:00+00:00",
        "duration_s": 300.0,
    }


PINNED = {"worker": [1], "load_generator": [0], "livekit_server": [0]}


def test_the_figures_put_both_sides_side_by_side() -> None:
    markdown = render_voice(_results(PINNED))
    assert "| Figure | Bare SDK | Ours | Ours / bare |" in markdown
    assert (
        "| End-to-end latency per turn, p50 / p95 / max (ms) | 1000 / 1000 / 1000 "
        "| 1050 / 1200 / 1200 | 1.050 / 1.200 |" in markdown
    )
    assert "| Turns measured | 4 | 4 | — |" in markdown
    assert (
        "| CPU per turn (s), median over the rounds (min to max) | 1.000 (1.000 to 1.000) "
        "| 1.050 (1.000 to 1.100) | 1.050 |" in markdown
    )


def test_the_targets_carry_their_interval_counts_and_verdict() -> None:
    markdown = render_voice(_results(PINNED))
    assert "| Target | Value [95 % CI] (n ours/bare) | Limit | Verdict |" in markdown
    assert (
        "| Voice: e2e latency per turn p95, ours / bare | 1.200 [0.900, 1.200] (n=4/4) "
        "| <= 1.03 | **INCONCLUSIVE** |" in markdown
    )
    assert (
        "| Voice: CPU per turn, ours / bare | 1.050 [1.000, 1.100] (n=2/2) "
        "| <= 1.03 | **INCONCLUSIVE** |" in markdown
    )


def test_a_target_without_an_interval_says_so() -> None:
    results = _results(PINNED)
    results["targets"] = evaluate_voice_targets([VoiceRun((1.0,), 1.2)], [VoiceRun((1.0,), 1.0)])
    assert (
        "| Voice: CPU per turn, ours / bare | 1.200, no interval (n=1/1) | <= 1.03 "
        "| **INCONCLUSIVE** |" in render_voice(results)
    )


def test_the_machine_and_method_lines() -> None:
    markdown = render_voice(_results(PINNED))
    assert "Machine: 2 cores, Test CPU, livekit-agents 1.8.9; 2026-11-29, 5.0 min." in markdown
    assert "2 alternating round(s) (at least 2, at most 8 within 25 min)" in markdown
    assert "worker on CPU 1, the participant and fakes on 0, livekit-server on 0." in markdown
    assert "; nothing pinned." in render_voice(_results(None))


def test_embedding_replaces_only_the_voice_section() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert embed_voice("new\n", document) == f"before\n{BEGIN}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="voice bench figures"):
        embed_voice("new", "no markers")


def test_the_readme_has_one_voice_section_in_performance() -> None:
    text = README.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    performance = text.index("\n## Performance\n")
    following = text.index("\n## ", performance + 1)
    assert performance < text.index(BEGIN) < text.index(END) < following


def test_a_run_in_the_results_directory_publishes_between_the_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"## Performance\n{BEGIN}\nold\n{END}\nafter\n")
    monkeypatch.setattr(published, "README", readme)
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "results")
    results = _results(PINNED)
    published.write_results(tmp_path / "results", "voice", results, render_voice, embed_voice)
    assert json.loads((tmp_path / "results" / "voice.json").read_text()) == results
    markdown = render_voice(results)
    assert (tmp_path / "results" / "voice.md").read_text() == markdown
    assert readme.read_text() == f"## Performance\n{BEGIN}\n{markdown.rstrip()}\n{END}\nafter\n"
