"""Metric definitions: names, help, units, bounded labels."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from telemetry import labels
from telemetry.catalogue import METRICS
from telemetry.exemplars import ExemplarHistograms
from telemetry.metrics import VoiceModels, WorkerMetrics

from .conftest import sample

_EXPECTED = {
    "agent_worker_build_info": ("gauge", ["agent_name", "sdk_version", "version"]),
    "agent_worker_registered": ("gauge", []),
    "agent_worker_reconnects": ("counter", []),
    "agent_worker_jobs_received": ("counter", []),
    "agent_worker_jobs_accepted": ("counter", []),
    "agent_worker_jobs_failed": ("counter", ["reason"]),
    "agent_worker_room_connect_duration_seconds": ("histogram", []),
    "agent_worker_active_participants": ("gauge", ["kind"]),
    "agent_worker_participants_joined": ("counter", ["kind"]),
    "agent_worker_participants_left": ("counter", ["kind", "reason"]),
    "agent_worker_tracks_published": ("counter", ["kind", "source"]),
    "agent_worker_tracks_unpublished": ("counter", ["kind", "source"]),
    "agent_worker_room_disconnections": ("counter", ["reason"]),
    "agent_worker_prewarm_duration_seconds": ("histogram", []),
    "agent_worker_span_export_failures": ("counter", []),
    "agent_worker_spans_dropped": ("counter", ["reason"]),
    "agent_worker_spans_ended": ("counter", []),
    "agent_worker_spans_exported": ("counter", []),
    "agent_worker_spans_relayed": ("counter", []),
    "agent_worker_event_loop_lag_seconds": ("histogram", ["process"]),
    "agent_worker_voice_sessions_active": ("gauge", []),
    "agent_worker_voice_invalid_latency": ("counter", ["reason", "stage"]),
    "agent_worker_voice_turns": ("counter", ["outcome"]),
    "agent_worker_voice_false_interruptions": ("counter", ["resumed"]),
    "agent_worker_voice_tool_call_duration_seconds": ("histogram", ["outcome"]),
    "agent_worker_voice_llm_tokens": ("counter", ["model", "provider", "type"]),
    "agent_worker_voice_tts_characters": ("counter", ["model", "provider"]),
    "agent_worker_voice_tts_audio_seconds": ("counter", ["model", "provider"]),
    "agent_worker_voice_stt_audio_seconds": ("counter", ["model", "provider"]),
    "agent_worker_voice_provider_errors": ("counter", ["kind", "provider"]),
    "gen_ai_client_operation_time_to_first_chunk_seconds": (
        "histogram",
        ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
    ),
    "gen_ai_client_operation_duration_seconds": (
        "histogram",
        ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
    ),
    "gen_ai_client_token_usage": (
        "histogram",
        [
            "gen_ai_operation_name",
            "gen_ai_provider_name",
            "gen_ai_request_model",
            "gen_ai_token_type",
        ],
    ),
}
_CONVENTION = {name for name in _EXPECTED if name.startswith("gen_ai_")}


def test_every_metric_is_named_typed_and_documented(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    families = {family.name: family for family in registry.collect()}
    assert set(families) == set(_EXPECTED)
    for name, family in families.items():
        kind, _ = _EXPECTED[name]
        assert family.type == kind, name
        assert family.documentation.endswith("."), name
        assert name.startswith("agent_worker_") or name in _CONVENTION


def test_label_names(metrics: WorkerMetrics, registry: CollectorRegistry) -> None:
    metrics.build_info(version="1", sdk_version="2", agent_name="a")
    metrics.job_failed("handler_error")
    metrics.participant_joined("standard")
    metrics.participant_left("standard", "client_initiated")
    metrics.track_published("microphone", "audio")
    metrics.track_unpublished("microphone", "audio")
    metrics.room_disconnected("room_deleted")
    metrics.loop_lag("main", 0.001)
    metrics.spans_lost(1, "shutdown")
    models = VoiceModels(("deepgram", "nova-3"), ("openai", "gpt-4o-mini"), ("cartesia", "sonic-3"))
    metrics.initialize_voice_series(models)
    metrics.voice_llm_request("openai", "gpt-4o-mini", tokens=(3, 1, 2), ttft=0.3, duration=1.0)
    for family in registry.collect():
        _, expected = _EXPECTED[family.name]
        for s in family.samples:
            assert sorted(k for k in s.labels if k != "le") == expected, s


def test_unknown_failure_reason_is_refused(metrics: WorkerMetrics) -> None:
    with pytest.raises(ValueError, match="unknown job failure reason"):
        metrics.job_failed("room name here")


def test_span_accounting_counts_batches_and_spans_by_reason(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.spans_ended(12)
    metrics.spans_exported(3)
    metrics.span_export_failed()
    metrics.spans_lost(7, "export_failed")
    metrics.spans_lost(2, "queue_full")
    metrics.spans_relayed(5)
    metrics.spans_lost(1, "relay_queue_full")
    metrics.spans_lost(1, "handoff_failed")
    assert sample(registry, "agent_worker_spans_ended_total") == 12
    assert sample(registry, "agent_worker_spans_relayed_total") == 5
    assert sample(registry, "agent_worker_spans_exported_total") == 3
    assert sample(registry, "agent_worker_span_export_failures_total") == 1
    get = registry.get_sample_value
    assert get("agent_worker_spans_dropped_total", {"reason": "export_failed"}) == 7
    assert get("agent_worker_spans_dropped_total", {"reason": "queue_full"}) == 2
    assert get("agent_worker_spans_dropped_total", {"reason": "relay_queue_full"}) == 1
    assert get("agent_worker_spans_dropped_total", {"reason": "handoff_failed"}) == 1
    with pytest.raises(ValueError, match="unknown span loss reason"):
        metrics.spans_lost(1, "collector said no")


def test_label_values_come_from_closed_sets() -> None:
    assert labels.track_source(999) == "unknown"
    assert labels.track_kind(999) == "unknown"
    assert labels.participant_kind(999) == "unknown"
    assert labels.disconnect_reason(999) == "unknown_reason"
    assert labels.disconnect_reason(None) == "unknown_reason"
    assert {"standard", "sip", "agent", "unknown"} <= labels.PARTICIPANT_KINDS


def test_series_exist_before_the_first_event(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.initialize_series(["standard", "sip"])
    for reason in ("entrypoint_error", "handler_error", "process_exited"):
        assert registry.get_sample_value("agent_worker_jobs_failed_total", {"reason": reason}) == 0
    for reason in ("queue_full", "export_failed", "export_timeout", "shutdown"):
        assert (
            registry.get_sample_value("agent_worker_spans_dropped_total", {"reason": reason}) == 0
        )
    for kind in ("standard", "sip"):
        assert registry.get_sample_value("agent_worker_active_participants", {"kind": kind}) == 0


def test_the_registry_holds_exactly_the_catalogue_s_worker_metrics(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    recorded = {m.name: m for m in METRICS if m.owner == "worker" and not m.exemplars}
    assert set(_EXPECTED) == set(recorded)
    for name, (kind, label_names) in _EXPECTED.items():
        assert recorded[name].type == kind, name
        assert sorted(recorded[name].labels) == label_names, name


def test_exemplar_histograms_are_the_catalogue_s_exemplar_entries() -> None:
    histograms = ExemplarHistograms()
    declared = {m.name: m for m in METRICS if m.exemplars}
    families = {f.name: f for f in histograms.collect()}
    assert (
        set(families)
        == set(declared)
        == {
            "agent_worker_dispatch_latency_seconds",
            "agent_worker_job_duration_seconds",
            "agent_worker_voice_turn_latency_seconds",
        }
    )
    for name, family in families.items():
        # the first series' buckets (the stage-labelled histogram has one series per stage)
        series = {k: v for k, v in family.samples[0].labels.items() if k != "le"}
        bounds = [
            float(s.labels["le"])
            for s in family.samples
            if s.name.endswith("_bucket")
            and {k: v for k, v in s.labels.items() if k != "le"} == series
        ]
        assert bounds[:-1] == list(declared[name].buckets), name
        assert family.documentation == declared[name].help


def test_a_lazy_registry_creates_a_metric_on_its_first_use_only() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry, lazy=True)
    assert metrics.created == frozenset()
    assert registry.get_sample_value("agent_worker_jobs_received_total") is None

    metrics.job_received()
    metrics.job_received()

    assert metrics.created == {"agent_worker_jobs_received"}
    assert registry.get_sample_value("agent_worker_jobs_received_total") == 2.0


def test_an_eager_registry_creates_every_worker_metric_at_once() -> None:
    metrics = WorkerMetrics(CollectorRegistry())

    worker_owned = {m.name for m in METRICS if m.owner == "worker" and not m.exemplars}
    assert metrics.created == worker_owned


class _SlowRegistry(CollectorRegistry):
    """Registers after a pause: threads that make the same metric at once overlap."""

    def register(self, collector: Collector) -> None:
        time.sleep(0.005)
        super().register(collector)


def test_threads_that_first_use_a_lazy_metric_together_create_it_once() -> None:
    # the span ledger records from the export thread while the job's loop records too
    failures: list[BaseException] = []
    registry = _SlowRegistry()
    metrics = WorkerMetrics(registry, lazy=True)
    start = threading.Barrier(6)

    def record() -> None:
        try:
            start.wait(timeout=5)
            metrics.spans_ended(1)
        except BaseException as error:  # collected: a thread's error is lost otherwise
            failures.append(error)

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert registry.get_sample_value("agent_worker_spans_ended_total") == 6.0
    assert failures == []
