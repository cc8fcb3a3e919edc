"""The one module that touches prometheus_client's undocumented multiprocess file format.

The compactor (``telemetry.multiproc``) folds the files of dead job processes into one
aggregate per metric type; it reads and writes them with ``MmapedDict``, the class
prometheus_client itself uses for them, from its undocumented ``mmap_dict`` module. The
``/metrics`` endpoint (``telemetry.exposition``) leaves out a file not yet sized. Each
use below carries why and the version it was verified on; ``REQUIREMENTS`` lists them for
``check()`` and ``tests/telemetry/seams/``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from prometheus_client import mmap_dict as _mmap_dict
from prometheus_client.mmap_dict import MmapedDict

from . import Requirement, problems

__all__ = ["REQUIREMENTS", "Values", "check", "has_header", "read_values", "write_values"]

Values = dict[str, tuple[float, float]]
"""A file's samples: key -> (value, timestamp)."""

# a file's header: 4 bytes of used length, 4 of padding; verified on 0.26.0
_HEADER_BYTES = 8


def has_header(path: Path) -> bool:
    """Whether the file at ``path`` is sized, so readable (False: being created, or gone).

    A process creating a metric file opens it empty, then sizes it; reading it in between
    makes prometheus_client's merge raise ``struct.error``.
    """
    try:
        return path.stat().st_size >= _HEADER_BYTES
    except OSError:  # gone since it was listed
        return False


def read_values(path: Path) -> Values:
    """Every sample of the multiprocess file at ``path``."""
    # what MultiProcessCollector reads files with; verified on 0.26.0
    return {
        key: (value, ts) for key, value, ts, _ in MmapedDict.read_all_values_from_file(str(path))
    }


def write_values(path: Path, values: Values) -> None:
    """Write ``values`` to a new multiprocess file at ``path``."""
    # the writer of prometheus_client's own files, so the format is theirs; verified on 0.26.0
    mmap_dict = MmapedDict(str(path))
    try:
        for key, (value, ts) in values.items():
            mmap_dict.write_value(key, value, ts)
    finally:
        mmap_dict.close()


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


REQUIREMENTS = (
    Requirement(
        "prometheus_client.mmap_dict.MmapedDict.read_all_values_from_file",
        "a static method (filename) yielding (key, value, timestamp, position)",
        lambda: _parameters(MmapedDict.read_all_values_from_file) == ["filename"],
    ),
    Requirement(
        "prometheus_client.mmap_dict.MmapedDict.write_value",
        "a method (key, value, timestamp)",
        lambda: _parameters(MmapedDict.write_value) == ["self", "key", "value", "timestamp"],
    ),
    Requirement(
        "prometheus_client.mmap_dict.MmapedDict.close",
        "a method closing the file",
        lambda: callable(MmapedDict.close),
    ),
    Requirement(
        "prometheus_client.mmap_dict._read_all_values",
        f"samples start after a {_HEADER_BYTES}-byte header",
        lambda: f"pos = {_HEADER_BYTES}" in inspect.getsource(_mmap_dict._read_all_values),
    ),
)


def check() -> list[str]:
    """One line per name of prometheus_client's file format that is gone or changed."""
    return problems("prometheus-client", "telemetry/seams/prom_client.py", REQUIREMENTS)
