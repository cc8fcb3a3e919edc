"""The voice bench's command line: bounded arguments, one line and exit 2 otherwise."""

from __future__ import annotations

import pytest

from bench.voice import main


@pytest.mark.parametrize("argv", [["--rounds", "0"], ["--rooms", "11"], ["--rounds", "21"]])
def test_out_of_range_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().out.startswith("error: ")
