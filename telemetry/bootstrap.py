"""Turn on prometheus_client's multiprocess mode before anything imports it.

prometheus_client chooses between in-memory and file-backed values when it is first
imported. The SDK records its ``lk_agents_*`` metrics in the main process and only sets
``PROMETHEUS_MULTIPROC_DIR`` once the worker runs, long after it imported
prometheus_client, so with the SDK's ``prometheus_multiproc_dir`` option alone the main
process's values stay in memory, where the multiprocess scrape never sees them. Setting the
variable first, from the entry point, makes every process write to the directory.

This module imports nothing heavy, so calling it first is possible.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["MultiprocessDirError", "enable_multiprocess_mode"]


class MultiprocessDirError(Exception):
    """The multiprocess directory cannot be used; the message says why in one line."""


def enable_multiprocess_mode(path: Path) -> None:
    """Create ``path`` and make prometheus_client use it in this process and its children.

    Raises:
        MultiprocessDirError: the directory cannot be created or written, or
            prometheus_client was imported already (its mode is fixed then).
    """
    if "prometheus_client" in sys.modules:
        raise MultiprocessDirError(
            "prometheus_client was imported before multiprocess mode was enabled"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise MultiprocessDirError(
            f"PROMETHEUS_MULTIPROC_DIR: {path} is not a writable directory ({error.strerror})"
        ) from None
    # the variable is prometheus_client's (and the SDK's) own interface
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
