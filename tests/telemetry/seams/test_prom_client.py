"""The prometheus_client seam: its multiprocess file class is still there, as it expects."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from telemetry.seams import prom_client


def test_the_installed_library_has_every_name_the_seam_uses() -> None:
    assert prom_client.check() == []


def test_a_removed_name_is_named_with_the_installed_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(MmapedDict, "write_value")

    [line] = prom_client.check()

    assert line.startswith(
        f"prometheus-client {version('prometheus-client')}: "
        "prometheus_client.mmap_dict.MmapedDict.write_value is gone or changed"
    )
    assert "telemetry/seams/prom_client.py" in line


def test_written_values_read_back(tmp_path: Path) -> None:
    values = {"a": (1.5, 10.0), "b": (-2.0, 0.0)}
    prom_client.write_values(tmp_path / "counter_1.db", values)

    assert prom_client.read_values(tmp_path / "counter_1.db") == values
