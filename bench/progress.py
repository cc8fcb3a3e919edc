"""Progress lines while the bench runs: elapsed time, phase, what is happening."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Prints ``[mm:ss] message`` lines, flushed at once so a terminal or CI log follows.

    Args:
        stream: where lines go (stdout by default).
        quiet: print nothing (tests).
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream or sys.stdout
        self._quiet = quiet
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the bench started."""
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        if self._quiet:
            return
        minutes, seconds = divmod(int(self.elapsed), 60)
        print(f"[{minutes:02d}:{seconds:02d}] {message}", file=self._stream, flush=True)
