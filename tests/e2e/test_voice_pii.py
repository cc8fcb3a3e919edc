"""With ``ALLOW_PII=true`` the room's trace holds the conversation, as the dashboard shows it.

The counterpart of ``test_voice_live``'s search, which finds no spoken or generated text
anywhere without PII: one real spoken conversation on the same provider fakes, with
``ALLOW_PII=true``. The room-inspection dashboard's transcript table reads exactly these
attributes: ``lk.pii.user_transcript`` on ``user_turn`` and ``lk.pii.response.text`` on
``agent_turn``, in the trace of the room's ``job_entrypoint``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.demo_voice import REPLIES, TRANSCRIPTS, FakePorts, converse_in_room, running_fakes
from devtools.harness import LiveKitServer, OtelCollector, Span, WorkerProcess, free_ports
from devtools.synthetic import ServerAccess

from .conftest import AGENT_NAME, room_name, traced_worker

USER_TEXT = "lk.pii.user_transcript"
AGENT_TEXT = "lk.pii.response.text"


@dataclass(frozen=True)
class _Conversation:
    worker: WorkerProcess
    spans: list[Span]


async def _converse(access: ServerAccess, ports: FakePorts, room: str) -> None:
    async with running_fakes(ports):
        await asyncio.wait_for(converse_in_room(access, room, AGENT_NAME), 180)


@pytest.fixture(scope="module")
def conversation(
    tmp_path_factory: pytest.TempPathFactory,
    livekit: LiveKitServer,
    access: ServerAccess,
    collector: OtelCollector,
) -> Iterator[_Conversation]:
    work = tmp_path_factory.mktemp("voice-pii")
    ports = FakePorts(*free_ports(3))
    env = {**ports.worker_env(), "ALLOW_PII": "true", "LOG_FORMAT": "json"}
    with traced_worker(livekit, collector, work / "worker", **env) as worker:
        asyncio.run(_converse(access, ports, room_name("voice-pii")))
        worker.wait_for_line("Job shutting down", timeout=60)
        collector.wait_for_spans(1, name="job_entrypoint", timeout=30)
        yield _Conversation(worker, collector.read_spans())


def _in_room_trace(conversation: _Conversation, name: str) -> list[Span]:
    (root,) = [s for s in conversation.spans if s["name"] == "job_entrypoint"]
    spans = [
        s for s in conversation.spans if s["name"] == name and s["trace_id"] == root["trace_id"]
    ]
    return sorted(spans, key=lambda s: s["start_time_unix_nano"])


@pytest.mark.timeout(600)
def test_the_user_turns_carry_what_the_user_said(conversation: _Conversation) -> None:
    said = [s["attributes"].get(USER_TEXT) for s in _in_room_trace(conversation, "user_turn")]
    # every utterance, word for word as the STT gave it, in order, in the room's one trace
    # (the talked-over one may share its turn with what the STT heard right after it)
    text = " ".join(t for t in said if t)
    positions = [text.find(utterance) for utterance in TRANSCRIPTS]
    assert -1 not in positions, (said, TRANSCRIPTS)
    assert positions == sorted(positions)


@pytest.mark.timeout(600)
def test_the_agent_turns_carry_what_the_agent_said(conversation: _Conversation) -> None:
    replies = [s["attributes"].get(AGENT_TEXT) for s in _in_room_trace(conversation, "agent_turn")]
    spoken = [text for text in replies if text]
    # the first two replies in full; the third was talked over, so it ends early
    assert spoken[:2] == list(REPLIES[:2])
    assert REPLIES[2].startswith(spoken[2])
    assert spoken[-1] == REPLIES[3]
