"""Multiprocess mode must be on before prometheus_client is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = """
import sys
from pathlib import Path

import pytest
from telemetry.bootstrap import enable_multiprocess_mode
assert "prometheus_client" not in sys.modules, "bootstrap imported prometheus_client"
enable_multiprocess_mode(Path(sys.argv[1]))
from prometheus_client import values
print(values.ValueClass.__name__)
"""


def test_enables_file_backed_values(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "m")],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        timeout=60,
    )
    assert out.stdout.strip() == "MmapedValue"
    assert (tmp_path / "m").is_dir()


def test_refuses_when_prometheus_client_is_already_imported(tmp_path: Path) -> None:
    import prometheus_client  # noqa: F401 - the situation under test

    from telemetry.bootstrap import MultiprocessDirError, enable_multiprocess_mode

    with pytest.raises(MultiprocessDirError, match="imported before"):
        enable_multiprocess_mode(tmp_path)
