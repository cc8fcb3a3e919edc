"""``with`` support for whatever starts and stops: servers, processes, samplers, rooms."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["StartStop"]


class StartStop:
    """Mixin: ``with obj:`` calls ``obj.start()`` on entry and ``obj.close()`` on exit.

    ``close()`` is ``stop()`` unless a subclass must do more when the block exits than an
    explicit ``stop()`` does (kill what survived, make participants leave).
    """

    def start(self) -> None:
        """Starts; subclasses implement it."""
        raise NotImplementedError

    def stop(self) -> object:
        """Stops; subclasses implement it (idempotently: it also runs after a failure)."""
        raise NotImplementedError

    def close(self) -> None:
        """What leaving the ``with`` block does: ``stop()``."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
