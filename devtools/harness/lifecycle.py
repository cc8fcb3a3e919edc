"""``with`` support for whatever starts and stops: servers, processes, samplers."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["StartStop"]


class StartStop:
    """Mixin: ``with obj:`` calls ``obj.start()`` on entry and ``obj.stop()`` on exit."""

    def start(self) -> None:
        """Starts; subclasses implement it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stops; subclasses implement it (idempotently: it also runs after a failure)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
