"""The livekit-agents seam: every private name it uses is still there, as it expects."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from livekit.agents import AgentServer
from livekit.agents.telemetry import metrics as sdk_metrics

from telemetry.seams import lk_agents


def test_the_installed_sdk_has_every_private_name_the_seam_uses() -> None:
    assert lk_agents.check() == []


def test_a_removed_name_is_named_with_the_installed_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(sdk_metrics, lk_agents.CHILD_COUNT_UPDATER)

    [line] = lk_agents.check()

    assert line.startswith(
        f"livekit-agents {version('livekit-agents')}: "
        "livekit.agents.telemetry.metrics._update_child_proc_count is gone or changed"
    )
    assert "telemetry/seams/lk_agents.py" in line
    assert "Upgrading the SDK" in line


def test_a_changed_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # the SDK no longer clearing `_connecting` on registration changes what the health reads
    monkeypatch.setattr(lk_agents, "_server_source", lambda: "class AgentServer: ...")

    names = [line.split(": ", 1)[1].split(" is gone")[0] for line in lk_agents.check()]

    assert names == [
        "AgentServer._connecting",
        "AgentServer._connection_failed",
        "AgentServer._agent_name",
        "AgentServer._proc_pool",
        "livekit.agents.telemetry.metrics._update_child_proc_count",
    ]


class _Server(lk_agents.RegistrationAwareServer):
    def __init__(self) -> None:
        self.lost = 0
        super().__init__(ws_url="ws://127.0.0.1:1", api_key="k", api_secret="s")

    def registration_lost(self) -> None:
        self.lost += 1


def test_the_health_reads_not_registered_until_registration_and_after_a_loss() -> None:
    server = _Server()
    assert (server.registered, server._connection_failed) == (False, True)

    server._connecting = True  # what the SDK does at each connection attempt
    server._connecting = False  # and on registration
    assert (server.registered, server._connection_failed, server.lost) == (True, False, 0)

    server._connecting = True  # the connection dropped: the SDK reconnects
    assert (server.registered, server._connection_failed, server.lost) == (False, True, 1)

    server._connecting = False
    server._connection_failed = True  # the SDK gave up after its last retry
    assert server._connection_failed


def test_the_agent_name_is_the_one_rtc_session_registered() -> None:
    server = _Server()

    async def entrypoint(_ctx: object) -> None:
        return None

    server.rtc_session(entrypoint, agent_name="support")  # type: ignore[arg-type]

    assert server.agent_name == "support"
    assert isinstance(server, AgentServer)


def test_a_tls_context_builder_that_is_no_longer_cached_is_named_and_not_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from livekit.agents.utils import http_context

    # built per call, it would not be inherited: building it in the forkserver would be waste
    monkeypatch.setattr(http_context, "_ssl_context_for", lambda cafile, capath: None)

    [line] = lk_agents.check()

    assert "livekit.agents.utils.http_context._create_ssl_context is gone or changed" in line
    assert lk_agents.build_http_tls_context() is False


def test_the_tls_context_built_is_the_one_the_sdk_s_sessions_use() -> None:
    from livekit.agents.utils import http_context

    assert lk_agents.build_http_tls_context() is True

    assert http_context._create_ssl_context() is http_context._create_ssl_context()
    assert http_context._ssl_context_for.cache_info().currsize >= 1
