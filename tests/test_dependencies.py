"""The declared dependency ranges, the lock and the installed versions agree.

The ranges in ``pyproject.toml`` admit only the versions the tests ran on; the lock and the
environment the tests run in must stay inside them, or the tests prove nothing about what a
user installs.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

_ROOT = Path(__file__).resolve().parents[1]
_PYPROJECT = tomllib.loads((_ROOT / "pyproject.toml").read_text())
# private names of these are used (telemetry/seams/): a range may admit only one minor version
_SEAMED = ("livekit-agents", "opentelemetry-sdk", "prometheus-client")


def _declared() -> dict[str, SpecifierSet]:
    ranges = {}
    for line in _PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        ranges[canonicalize_name(requirement.name)] = requirement.specifier
    for name, spec in _PYPROJECT["tool"]["poetry"]["group"]["dev"]["dependencies"].items():
        ranges[canonicalize_name(name)] = _poetry_specifier(spec)
    return ranges


def _poetry_specifier(spec: str) -> SpecifierSet:
    # Poetry reads a bare version as an exact pin (PEP 440 wants the ``==``)
    return SpecifierSet(spec if spec[:1] in "<>=!~" else f"=={spec}")


def _locked() -> dict[str, str]:
    lock = tomllib.loads((_ROOT / "poetry.lock").read_text())
    return {canonicalize_name(p["name"]): p["version"] for p in lock["package"]}


_DECLARED = _declared()


def _outside(versions: dict[str, str]) -> list[str]:
    return [
        f"{name} {versions.get(name, '(missing)')} is outside {spec}"
        for name, spec in _DECLARED.items()
        if name not in versions or not spec.contains(versions[name], prereleases=True)
    ]


def test_every_declared_dependency_is_locked_inside_its_range() -> None:
    assert _outside(_locked()) == []


def test_every_installed_dependency_is_inside_its_range() -> None:
    installed = {}
    for name in _DECLARED:
        try:
            installed[name] = version(name)
        except PackageNotFoundError:
            continue
    assert _outside(installed) == []


@pytest.mark.parametrize("name", _SEAMED)
def test_a_library_used_through_a_seam_admits_only_the_tested_minor_version(name: str) -> None:
    spec = _DECLARED[name]
    installed = version(name)
    major, minor = (int(part) for part in installed.split(".")[:2])

    assert spec.contains(installed)
    assert not spec.contains(f"{major}.{minor + 1}.0")
    assert not spec.contains(f"{major}.{minor}.0") or installed == f"{major}.{minor}.0"


def test_a_version_outside_a_range_is_reported() -> None:
    assert _outside({**_locked(), "livekit-agents": "1.9.0"}) == [
        f"livekit-agents 1.9.0 is outside {_DECLARED['livekit-agents']}"
    ]
