"""Moved to :mod:`devtools.harness`; this re-export serves ``tests/deploy`` until it
imports the harness itself, and then goes."""

from devtools.harness import COLLECTOR_CONFIG, REPO_ROOT, binary

__all__ = ["COLLECTOR_CONFIG", "REPO_ROOT", "binary"]
