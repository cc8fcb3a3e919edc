"""The voice pipeline on the real SDK, proven on one real spoken conversation.

The worker runs with ``VOICE_PIPELINE=on`` against the local protocol-level fakes of
OpenAI, Deepgram and Cartesia (known delays: LLM first token 300 ms, TTS first byte
200 ms, STT final 150 ms after the end of speech). A participant speaks espeak-ng phrases
through WebRTC in a real room: three turns, then it talks over the agent's third reply.
The real Silero VAD and the SDK's turn detection make the turns. Prometheus scrapes the
worker with the shipped rules; the Collector writes every span to a file. One session,
several assertions; ``ALLOW_PII=false`` so that the PII search has something to prove.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.demo_voice import REPLIES, TRANSCRIPTS, FakePorts, converse_in_room, running_fakes
from devtools.harness import (
    REPO_ROOT,
    LiveKitServer,
    OtelCollector,
    Prometheus,
    Span,
    WorkerProcess,
    binary,
    free_ports,
    wait_until,
)
from devtools.speaking import Exchange
from devtools.synthetic import ServerAccess
from tests.deploy.promql import iter_panel_queries, iter_recording_rules

from .conftest import AGENT_NAME, room_name, voice_worker

DASHBOARD = REPO_ROOT / "dashboards" / "voice-pipeline.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"

LLM_TTFT, TTS_TTFB, STT_FINAL = 0.3, 0.2, 0.15
# loopback, JSON, WebRTC and two event loops on a loaded 2-core machine
TOLERANCE = 0.15
STAGES = ("end_to_end", "end_of_turn", "transcription", "llm_ttft", "tts_ttfb")
VOICE_SPANS = {
    "agent_session",
    "user_turn",
    "agent_turn",
    "llm_node",
    "llm_request",
    "tts_node",
    "tts_request",
}


def _voice_series(text: str) -> set[str]:
    return {
        line.split(" ")[0]
        for line in text.splitlines()
        if line.startswith(("agent_worker_voice_", "gen_ai_client_"))
    }


@dataclass(frozen=True)
class _Session:
    worker: WorkerProcess
    prometheus: Prometheus
    collector: OtelCollector
    exchanges: list[Exchange]
    room: str
    metrics_text: str
    series_before: set[str]
    scrapes: list[str]


async def _scrape_while(worker: WorkerProcess, done: asyncio.Event, scrapes: list[str]) -> None:
    # what a scraper sees during the conversation, every half second
    while not done.is_set():
        scrapes.append(await asyncio.to_thread(worker.scrape))
        await asyncio.sleep(0.5)


async def _conversation(
    access: ServerAccess, ports: FakePorts, room: str, worker: WorkerProcess, scrapes: list[str]
) -> list[Exchange]:
    done = asyncio.Event()
    async with running_fakes(ports, llm_ttft=LLM_TTFT, tts_ttfb=TTS_TTFB, stt_final=STT_FINAL):
        poller = asyncio.create_task(_scrape_while(worker, done, scrapes))
        try:
            # the person stays past two scrapes after the last reply, so the last turn is
            # seen on /metrics while the session still runs, as every other turn is
            return await asyncio.wait_for(
                converse_in_room(access, room, AGENT_NAME, linger=1.5), 180
            )
        finally:
            done.set()
            await poller


@pytest.fixture(scope="module")
def voice_session(
    tmp_path_factory: pytest.TempPathFactory,
    livekit: LiveKitServer,
    access: ServerAccess,
    collector: OtelCollector,
) -> Iterator[_Session]:
    work = tmp_path_factory.mktemp("voice")
    ports = FakePorts(*free_ports(3))
    with voice_worker(livekit, collector, work / "worker", ports, LOG_LEVEL="DEBUG") as worker:
        targets = [("agent-worker", f"127.0.0.1:{worker.metrics_port}")]
        rules = sorted(RULES.glob("*.yml"))
        with Prometheus(work / "prometheus", targets, rule_files=rules) as prometheus:
            prometheus.wait_for_targets_up(timeout=60)
            series_before = _voice_series(worker.scrape())
            room = room_name("voice")
            scrapes: list[str] = []
            exchanges = asyncio.run(_conversation(access, ports, room, worker, scrapes))
            metrics_text = worker.scrape()
            worker.wait_for_line("Job shutting down", timeout=60)
            wait_until(
                lambda: prometheus.query(
                    "min(count_over_time(agent_worker_voice_turns_total[1m])) >= 4"
                ),
                60,
                what="the session's counters scraped",
            )
            yield _Session(
                worker,
                prometheus,
                collector,
                exchanges,
                room,
                metrics_text,
                series_before,
                scrapes,
            )


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one series name in a text exposition."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}(\{{[^}}]*\}})? (\S+)", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def _stage(text: str, suffix: str, stage: str) -> float:
    name = f"agent_worker_voice_turn_latency_seconds{suffix}"
    return _samples(text, name)[f'{{stage="{stage}"}}']


def _spans(session: _Session, name: str, count: int = 4) -> list[Span]:
    spans = session.collector.wait_for_spans(count, name=name, timeout=30)
    return sorted(spans, key=lambda s: s["start_time_unix_nano"])


def _of_reported_turns(session: _Session, name: str) -> list[Span]:
    # the SDK reports a turn (ChatMessage.metrics, and lk.e2e_latency on its agent_turn) when
    # it commits the reply; a generation it dropped unspoken (the user went on speaking) has
    # an llm_node or tts_node too, but no report
    reported = {
        s["span_id"] for s in _spans(session, "agent_turn") if "lk.e2e_latency" in s["attributes"]
    }
    return [s for s in _spans(session, name) if s["parent_span_id"] in reported]


def _sum_of(spans: list[Span], key: str) -> float:
    return sum(float(s["attributes"][key]) for s in spans if key in s["attributes"])


@pytest.mark.timeout(600)
def test_the_conversation_had_four_turns_one_interrupted(voice_session: _Session) -> None:
    assert [e.phrase for e in voice_session.exchanges] == list(TRANSCRIPTS)
    turns = _samples(voice_session.metrics_text, "agent_worker_voice_turns_total")
    assert turns == {'{outcome="completed"}': 3.0, '{outcome="interrupted"}': 1.0}, turns
    agent_turns = _spans(voice_session, "agent_turn")
    assert [s["attributes"].get("lk.interrupted") for s in agent_turns] == [
        False,
        False,
        True,
        False,
    ]
    assert agent_turns[2]["attributes"]["lk.interruption.source"] == "user_turn"


@pytest.mark.timeout(600)
def test_each_stage_reports_the_injected_delay(voice_session: _Session) -> None:
    text = voice_session.metrics_text
    assert {s: _stage(text, "_count", s) for s in STAGES} == dict.fromkeys(STAGES, 4.0)
    mean = {s: _stage(text, "_sum", s) / 4 for s in STAGES}
    assert mean["llm_ttft"] == pytest.approx(LLM_TTFT, abs=TOLERANCE), mean
    assert mean["tts_ttfb"] == pytest.approx(TTS_TTFB, abs=TOLERANCE), mean
    # the SDK counts from Silero's end of speech, a little after the fake's energy-based end
    assert mean["transcription"] == pytest.approx(STT_FINAL, abs=TOLERANCE), mean
    # VAD turn detection: the endpointing delay (0.5 s) after Silero's end of speech
    assert mean["end_of_turn"] == pytest.approx(0.5, abs=TOLERANCE), mean
    for e in voice_session.exchanges:
        # the participant hears the reply after WebRTC delivery and its jitter buffer, which
        # the SDK's figure (first frame pushed to the track) does not include
        assert e.agent_start is not None
        assert 0.2 < e.agent_start - e.speech_end < 2.0, e


@pytest.mark.timeout(600)
def test_turns_are_on_metrics_while_the_session_runs(voice_session: _Session) -> None:
    # each turn is on /metrics as it is committed, aggregated from the job process, not when
    # the session ends: scrapes taken while the session is still running show them one by one
    live = [
        _stage(text, "_count", "end_to_end")
        for text in voice_session.scrapes
        if _samples(text, "agent_worker_voice_sessions_active") == {"": 1.0}
    ]
    assert sorted(set(live)) == [0.0, 1.0, 2.0, 3.0, 4.0], live


@pytest.mark.timeout(600)
def test_the_worker_figures_are_the_sdk_s_own_per_turn_report(voice_session: _Session) -> None:
    # the SDK writes the same MetricsReport values on its spans: user stages and end to end on
    # agent_turn, llm_node_ttft on llm_node, tts_node_ttfb on tts_node
    text = voice_session.metrics_text
    agent_turns = _spans(voice_session, "agent_turn")
    expected = {
        "end_to_end": _sum_of(agent_turns, "lk.e2e_latency"),
        "end_of_turn": _sum_of(agent_turns, "lk.end_of_turn_delay"),
        "transcription": _sum_of(agent_turns, "lk.transcription_delay"),
        "llm_ttft": _sum_of(_of_reported_turns(voice_session, "llm_node"), "lk.response.ttft"),
        "tts_ttfb": _sum_of(_of_reported_turns(voice_session, "tts_node"), "lk.response.ttfb"),
    }
    measured = {s: _stage(text, "_sum", s) for s in STAGES}
    assert measured == pytest.approx(expected, rel=1e-6)
    # the GenAI-convention histogram is the plugin's own LLMMetrics.ttft, per request
    ttfc = _samples(text, "gen_ai_client_operation_time_to_first_chunk_seconds_sum")
    requests = _spans(voice_session, "llm_request")
    assert list(ttfc.values()) == pytest.approx(
        [_sum_of(requests, "gen_ai.response.time_to_first_chunk")], rel=1e-6
    )
    tokens = _samples(text, "agent_worker_voice_llm_tokens_total")
    assert tokens['{model="gpt-4o-mini",provider="openai",type="input"}'] == _sum_of(
        requests, "gen_ai.usage.input_tokens"
    )


@pytest.mark.timeout(600)
def test_usage_is_counted_by_provider_and_model(voice_session: _Session) -> None:
    text = voice_session.metrics_text
    chars = _samples(text, "agent_worker_voice_tts_characters_total")
    assert list(chars) == ['{model="sonic-3",provider="cartesia"}']
    assert next(iter(chars.values())) >= sum(len(r) for r in REPLIES[:2])
    stt = _samples(text, "agent_worker_voice_stt_audio_seconds_total")
    assert list(stt) == ['{model="nova-3",provider="deepgram"}']
    assert next(iter(stt.values())) > 5
    audio = _samples(text, "agent_worker_voice_tts_audio_seconds_total")
    assert next(iter(audio.values())) > 5


@pytest.mark.timeout(600)
def test_voice_spans_are_in_the_room_s_one_trace(voice_session: _Session) -> None:
    (root,) = voice_session.collector.wait_for_spans(1, name="job_entrypoint", timeout=30)
    spans = voice_session.collector.read_spans()
    assert root["attributes"]["lk.room_sid"].startswith("RM_")
    by_id = {s["span_id"]: s for s in spans}
    voice = [s for s in spans if s["name"] in VOICE_SPANS]
    assert {s["name"] for s in voice} == VOICE_SPANS
    for span in voice:
        assert span["trace_id"] == root["trace_id"], span["name"]
        chain = [span]
        while chain[-1]["parent_span_id"]:
            chain.append(by_id[chain[-1]["parent_span_id"]])
        assert chain[-1]["span_id"] == root["span_id"], span["name"]
        assert "agent_session" in {s["name"] for s in chain}, span["name"]


@pytest.mark.timeout(600)
def test_latency_exemplars_lead_to_the_room_s_trace(voice_session: _Session) -> None:
    (root,) = voice_session.collector.wait_for_spans(1, name="job_entrypoint", timeout=30)
    exemplars = voice_session.prometheus.query_exemplars(
        "agent_worker_voice_turn_latency_seconds_bucket"
    )
    stages = {series["seriesLabels"]["stage"] for series in exemplars}
    assert stages == set(STAGES)
    trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert trace_ids == {root["trace_id"]}


def test_no_spoken_or_generated_text_is_exported_without_pii(voice_session: _Session) -> None:
    texts = [t.lower() for t in (*TRANSCRIPTS, *REPLIES)]
    # sentences too: the SDK synthesizes and records replies sentence by sentence
    texts += [part.strip().lower() for r in REPLIES for part in r.split(".") if len(part) > 12]
    spans = json.dumps(voice_session.collector.read_spans()).lower()
    logs = voice_session.worker.output().lower()
    metrics = voice_session.metrics_text.lower()
    assert "voice session started" in logs, "the job's log lines are there"
    for where, body in (("spans", spans), ("logs", logs), ("metrics", metrics)):
        leaked = [t for t in texts if t in body]
        assert leaked == [], f"{where} carry spoken or generated text: {leaked}"


def test_the_exposition_passes_promtool_and_its_series_do_not_grow(
    voice_session: _Session,
) -> None:
    check = subprocess.run(
        [str(binary("promtool")), "check", "metrics"],
        input=voice_session.metrics_text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # every voice series exists from the worker's start: a session adds none
    assert voice_session.series_before == _voice_series(voice_session.metrics_text)


@pytest.mark.timeout(600)
def test_every_voice_dashboard_query_and_rule_returns_data(voice_session: _Session) -> None:
    prometheus = voice_session.prometheus
    queries = list(iter_panel_queries(DASHBOARD))
    assert len(queries) > 10
    empty = [f"{q.panel}: {q.expr}" for q in queries if not prometheus.query(q.expr)]
    rules = [r.record for r in iter_recording_rules() if "_voice_" in r.record]
    empty += [rule for rule in rules if not prometheus.query(rule)]
    assert not empty, "without data:\n" + "\n".join(empty)
    firing = prometheus.query('ALERTS{alertstate="firing"}')
    assert firing == [], firing
