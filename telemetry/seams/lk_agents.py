"""The one module that touches private names of livekit-agents.

The worker needs five things the SDK does not offer publicly: its health answer tied to the
registration state, the agent name it registered with, the event of a job process that
closed, its child-process gauge and CLI logging setup replaced by the project's, and its
HTTP session's TLS context built once, before job processes are forked. Each
private name below carries why it is used and the version it was verified on;
``REQUIREMENTS`` lists them for ``check()`` and ``tests/telemetry/seams/``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from livekit.agents import AgentServer, ipc
from livekit.agents.telemetry import metrics as sdk_metrics
from livekit.agents.utils import http_context

from . import Requirement, problems

__all__ = [
    "CHILD_COUNT_UPDATER",
    "REQUIREMENTS",
    "RegistrationAwareServer",
    "TLS_CONTEXT_BUILDER",
    "build_http_tls_context",
    "check",
    "replace_child_count_updater",
    "replace_cli_logging_setup",
]

logger = logging.getLogger(__name__)

# the SDK's load loop calls it at every tick, in multiprocess mode; verified on 1.8.9
CHILD_COUNT_UPDATER = "_update_child_proc_count"
# builds (once per process, cached) the TLS context of a job's HTTP session; verified on 1.8.9
TLS_CONTEXT_BUILDER = "_create_ssl_context"


class RegistrationAwareServer(AgentServer):
    """An ``AgentServer`` whose health answer is unhealthy whenever it is not registered.

    The SDK's health answer reads ``_connection_failed``, which it sets only after its last
    retry; ``_connecting`` is True from each connection attempt until registration. The
    properties below report "not registered" through both, at the moment it happens: before
    the first registration too (refused credentials never register). Subclasses override
    :meth:`registration_lost`.

    Args:
        **kwargs: passed to ``AgentServer``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._registered = False
        self._failed = False
        super().__init__(**kwargs)
        self._registered = False  # the SDK's __init__ resets `_connecting` through the setter

    @property
    def registered(self) -> bool:
        """Whether the worker is registered with the LiveKit server right now."""
        return self._registered

    def registration_lost(self) -> None:
        """Called when a registered worker loses its connection (the SDK reconnects)."""

    # read by the SDK's health answer, set by it after its last retry; verified on 1.8.9
    @property
    def _connection_failed(self) -> bool:
        return self._failed or not self._registered

    @_connection_failed.setter
    def _connection_failed(self, value: bool) -> None:
        self._failed = value

    # set by the SDK at each connection attempt and cleared on registration; verified on 1.8.9
    @property
    def _connecting(self) -> bool:
        return not self._registered

    @_connecting.setter
    def _connecting(self, value: bool) -> None:
        if value and self._registered:
            self._registered = False
            self.registration_lost()
        self._registered = not value

    @property
    def agent_name(self) -> str:
        """The agent name the worker registers with (after the SDK's environment overrides)."""
        # no public accessor; rtc_session resolves it; verified on 1.8.9
        return str(self._agent_name)

    def on_process_closed(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(proc)`` whenever a job process closes; only once the server runs."""
        # the pool is created in run() and has no public accessor; verified on 1.8.9
        self._proc_pool.on("process_closed", callback)

    def on_process_started(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(proc)`` whenever the pool starts a job process; once it runs."""
        # the same pool; it emits process_started once the process exists; verified on 1.8.9
        self._proc_pool.on("process_started", callback)


def replace_child_count_updater(updater: Callable[[], None]) -> bool:
    """Have the SDK's load loop call ``updater`` for its child-process gauge.

    Returns:
        False, changing nothing, when the SDK no longer has the function to replace.
    """
    if not callable(getattr(sdk_metrics, CHILD_COUNT_UPDATER, None)):
        return False
    # looked up at every tick through the module; verified on 1.8.9
    setattr(sdk_metrics, CHILD_COUNT_UPDATER, updater)
    return True


def replace_cli_logging_setup(setup: Callable[[str, bool, bool, bool], None]) -> None:
    """Have the SDK's CLI call ``setup(log_level, devmode, console, compact)`` for logging.

    The CLI calls its module-level ``setup_logging`` when it starts the worker, after the
    project configured logging; the name is looked up then, so rebinding it routes the call.
    """
    from livekit.agents.cli import cli as sdk_cli

    # not in the module's __all__, but the name its worker start calls; verified on 1.8.9
    setattr(sdk_cli, "setup_logging", setup)  # noqa: B010


def build_http_tls_context() -> bool:
    """Build the TLS context of the SDK's per-job HTTP session now, in this process.

    The SDK builds it in each job process: on the job's first HTTP request, and at the job's
    end even without one, as closing the job's HTTP context opens a session to close it.
    Building it parses the whole CA bundle (about 16 ms of CPU). The SDK caches it per
    process, so built in the forkserver it is inherited by every job process forked after,
    which then builds none. An ``SSLContext`` holds no thread and no connection.

    Returns:
        False, building nothing, when the SDK no longer builds it through a cached function.
    """
    if not _tls_context_cached():
        return False
    getattr(http_context, TLS_CONTEXT_BUILDER)()
    return True


def _tls_context_cached() -> bool:
    # the builder reads the trust settings and calls a cached function; verified on 1.8.9
    cached = getattr(http_context, "_ssl_context_for", None)
    return callable(getattr(http_context, TLS_CONTEXT_BUILDER, None)) and callable(
        getattr(cached, "cache_info", None)
    )


def _session_uses_tls_builder() -> bool:
    return f"ssl={TLS_CONTEXT_BUILDER}()" in inspect.getsource(http_context)


@functools.cache
def _server_source() -> str:
    return inspect.getsource(AgentServer)


def _cli_logging_setup_holds() -> bool:
    from livekit.agents.cli import cli as sdk_cli

    parameters = list(inspect.signature(getattr(sdk_cli, "setup_logging")).parameters)  # noqa: B009
    return parameters[:3] == ["log_level", "devmode", "console"] and "setup_logging(" in (
        inspect.getsource(sdk_cli)
    )


REQUIREMENTS = (
    Requirement(
        "AgentServer._connecting",
        "set True by each connection attempt and False on registration",
        lambda: (
            "self._connecting = True" in _server_source()
            and "self._connecting = False" in _server_source()
        ),
    ),
    Requirement(
        "AgentServer._connection_failed",
        "read by the health answer and set after the last retry",
        lambda: (
            "if self._connection_failed:" in _server_source()
            and "self._connection_failed = True" in _server_source()
        ),
    ),
    Requirement(
        "AgentServer._agent_name",
        "set by rtc_session from its agent_name",
        lambda: "self._agent_name = agent_name" in _server_source(),
    ),
    Requirement(
        "AgentServer._proc_pool",
        "a ProcPool assigned in run(), with .on(event, callback)",
        lambda: (
            "self._proc_pool = ipc.proc_pool.ProcPool(" in _server_source()
            and callable(ipc.proc_pool.ProcPool.on)
        ),
    ),
    Requirement(
        f"livekit.agents.telemetry.metrics.{CHILD_COUNT_UPDATER}",
        "a function the load loop calls through the module",
        lambda: (
            callable(getattr(sdk_metrics, CHILD_COUNT_UPDATER))
            and f"telemetry.metrics.{CHILD_COUNT_UPDATER}" in _server_source()
        ),
    ),
    Requirement(
        "livekit.agents.cli.cli.setup_logging",
        "setup_logging(log_level, devmode, console, ...) called by the CLI's worker start",
        _cli_logging_setup_holds,
    ),
    Requirement(
        f"livekit.agents.utils.http_context.{TLS_CONTEXT_BUILDER}",
        "the job's HTTP session's TLS context, built through a functools.cache function",
        lambda: _tls_context_cached() and _session_uses_tls_builder(),
    ),
)


def check() -> list[str]:
    """One line per private name of livekit-agents that is gone or changed (empty: none)."""
    return problems("livekit-agents", "telemetry/seams/lk_agents.py", REQUIREMENTS)
