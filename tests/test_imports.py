"""Importing any module of ``worker``, ``telemetry`` or ``devtools`` reads no setting and
cannot exit: the command lines load the settings, once, and hand them on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_PACKAGES = ("worker", "telemetry", "devtools")

# Imports every module of the packages with os.environ recording which module read which
# variable, and RuntimeSettings recording every instance created; prints what it saw.
_IMPORT_ALL = """
import importlib, json, os, pkgutil, sys

reads = []
_LOOKUPS = ("os", "collections.abc", "_collections_abc")  # environ.get, getenv, `in`

class _Recording(type(os.environ)):
    def __getitem__(self, key):
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__") in _LOOKUPS:
            frame = frame.f_back
        reads.append([key, frame.f_globals.get("__name__", "") if frame else ""])
        return super().__getitem__(key)

os.environ.__class__ = _Recording

import pydantic_settings
created = []
_init = pydantic_settings.BaseSettings.__init__
def _spy(self, *args, **kwargs):
    created.append(type(self).__name__)
    _init(self, *args, **kwargs)
pydantic_settings.BaseSettings.__init__ = _spy

modules = []
for package in sys.argv[1:]:
    path = importlib.import_module(package).__path__
    modules.append(package)
    for info in pkgutil.walk_packages(path, prefix=package + "."):
        importlib.import_module(info.name)
        modules.append(info.name)
project = tuple(p + "." for p in sys.argv[1:]) + tuple(sys.argv[1:])
own_reads = [r for r in reads if r[1].startswith(project)]
print(json.dumps({"modules": modules, "created": created, "own_reads": own_reads}))
"""

_HOSTILE = {
    "HEALTH_PORT": "notaport",
    "METRICS_PORT": "70000",
    "LIVEKIT_URL": "bogus",
    "LOG_LEVEL": "LOUD",
    "OTEL_TRACES_EXPORTER": "jaeger",
}


def _python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **_HOSTILE, "PYTHONPATH": str(_ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_module_imports_without_reading_settings_or_exiting(tmp_path: Path) -> None:
    # a .env file in the working directory would be read too, if anything read settings
    (tmp_path / ".env").write_text("WORKER_NUM_IDLE_PROCESSES=-1\n")

    result = _python(_IMPORT_ALL, *_PACKAGES, cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"worker.main", "worker.settings", "telemetry.seams.lk_agents"} <= set(seen["modules"])
    assert {"devtools.devserver", "devtools.demo_traffic"} <= set(seen["modules"])
    assert seen["created"] == []
    assert seen["own_reads"] == []


def test_the_recorder_sees_a_read_and_a_settings_instance(tmp_path: Path) -> None:
    # the check above can fail: the same recorder, with the settings loaded on import
    module = tmp_path / "reads_settings"
    module.mkdir()
    (module / "__init__.py").write_text(
        "import os\nfrom worker.settings import RuntimeSettings\n"
        "os.environ.get('AGENT_NAME')\nRuntimeSettings(_env_file=None, HEALTH_PORT=1, "
        "METRICS_PORT=2, LIVEKIT_URL='ws://x', LOG_LEVEL='INFO', OTEL_TRACES_EXPORTER='none')\n"
    )

    result = _python(
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + _IMPORT_ALL,
        "reads_settings",
        cwd=tmp_path,
    )

    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["created"] == ["RuntimeSettings"]
    assert ["AGENT_NAME", "reads_settings"] in seen["own_reads"]


def test_the_settings_and_preflight_come_before_prometheus_client(tmp_path: Path) -> None:
    # `python -m worker` enables multiprocess mode before anything imports prometheus_client
    result = _python(
        "import sys, worker.settings, worker.preflight, telemetry.bootstrap\n"
        "print('prometheus_client' in sys.modules)",
        cwd=tmp_path,
    )

    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr[-2000:]
