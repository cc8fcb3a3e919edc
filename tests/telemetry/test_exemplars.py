"""Exemplar histograms owned by the main process, and the job-process relay feeding them."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from telemetry.exemplars import (
    DISPATCH_LATENCY,
    JOB_DURATION,
    ExemplarHistograms,
    ObservationReceiver,
    ObservationReporter,
    voice_stage_key,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_histogram_buckets_sum_and_exemplars() -> None:
    histograms = ExemplarHistograms()
    histograms.observe(DISPATCH_LATENCY, 0.15, TRACE)
    histograms.observe(DISPATCH_LATENCY, 7.0, None)
    histograms.observe(DISPATCH_LATENCY, float("nan"), TRACE)  # ignored
    histograms.observe("room name", 1.0, TRACE)  # unknown key: ignored
    registry = CollectorRegistry()
    registry.register(histograms)
    text = openmetrics(registry).decode()
    bucket = 'agent_worker_dispatch_latency_seconds_bucket{le="0.2"} 1.0'
    assert f'{bucket} # {{trace_id="{TRACE}"}} 0.15' in text
    assert 'agent_worker_dispatch_latency_seconds_bucket{le="10.0"} 2.0\n' in text
    assert 'agent_worker_dispatch_latency_seconds_bucket{le="+Inf"} 2.0\n' in text
    assert "agent_worker_dispatch_latency_seconds_count 2.0" in text
    assert "agent_worker_dispatch_latency_seconds_sum 7.15" in text
    assert "agent_worker_job_duration_seconds_count 0.0" in text


async def test_reporter_to_receiver_round_trip() -> None:
    histograms = ExemplarHistograms()
    with tempfile.TemporaryDirectory(prefix="ex") as directory:
        path = Path(directory) / "o.sock"
        receiver = ObservationReceiver(path, histograms)
        await receiver.start()
        reporter = ObservationReporter(path)
        try:
            assert reporter.report(JOB_DURATION, 42.0, TRACE)
            assert reporter.report(DISPATCH_LATENCY, 0.4, "not-a-trace-id")
            for _ in range(100):
                await asyncio.sleep(0.01)
                if histograms.by_key[DISPATCH_LATENCY].collect().samples[-2].value == 1:
                    break
        finally:
            reporter.close()
            receiver.close()
        assert not path.exists()
    job = histograms.by_key[JOB_DURATION].collect()
    buckets = [s for s in job.samples if s.name.endswith("_bucket")]
    exemplars = [s.exemplar for s in buckets if s.exemplar is not None]
    assert [e.labels for e in exemplars] == [{"trace_id": TRACE}]
    dispatch = histograms.by_key[DISPATCH_LATENCY].collect()
    assert all(s.exemplar is None for s in dispatch.samples)  # invalid trace id dropped


def test_reporter_without_receiver_does_not_raise(tmp_path: Path) -> None:
    reporter = ObservationReporter(tmp_path / "absent.sock")
    assert reporter.report(JOB_DURATION, 1.0, TRACE) is False
    reporter.close()


def test_the_voice_stages_are_one_family_with_a_stage_label() -> None:
    histograms = ExemplarHistograms()
    trace_id = "ab" * 16
    histograms.observe(voice_stage_key("end_to_end"), 1.2, trace_id)
    histograms.observe(voice_stage_key("llm_ttft"), 0.3, None)
    histograms.observe(voice_stage_key("room-name"), 0.3, None)  # not a stage: ignored
    histograms.observe(voice_stage_key("tts_ttfb"), -0.1, None)  # impossible: ignored
    (family,) = [f for f in histograms.collect() if f.name.endswith("voice_turn_latency_seconds")]
    counts = {s.labels["stage"]: s.value for s in family.samples if s.name.endswith("_count")}
    assert counts == {
        "end_to_end": 1,
        "end_of_turn": 0,
        "transcription": 0,
        "llm_ttft": 1,
        "tts_ttfb": 0,
    }
    exemplars = [s.exemplar for s in family.samples if s.exemplar is not None]
    assert [(e.labels, e.value) for e in exemplars] == [({"trace_id": trace_id}, 1.2)]
