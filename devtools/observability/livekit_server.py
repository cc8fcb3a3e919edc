"""The "LiveKit Server" dashboard and the livekit-server metrics it reads (not the worker's)."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash_b

from telemetry import catalogue as c

from . import variables
from .panels import PanelBuilder, dashboard, prom_target, stat_panel, timeseries_panel
from .queries import rate, scoped

__all__ = ["LIVEKIT_SERVER_METRICS", "UID", "build"]

UID = "lk-livekit-server"

LIVEKIT_SERVER_METRICS: Mapping[str, str] = {
    "livekit_room_total": "gauge",
    "livekit_participant_total": "gauge",
    "livekit_participant_join_total": "counter",
    "livekit_track_published_total": "gauge",
    "livekit_track_subscribed_total": "gauge",
    "livekit_packet_total": "counter",
    "livekit_packet_bytes": "counter",
    "livekit_packet_loss_total": "counter",
    "livekit_packet_loss_percent": "histogram",
    "livekit_nack_total": "counter",
    "livekit_pli_total": "counter",
    "livekit_fir_total": "counter",
    "livekit_jitter_us": "histogram",
    "livekit_rtt_ms": "histogram",
    "livekit_forward_latency_ns": "histogram",
    "livekit_session_join_latency_ms": "histogram",
    "livekit_quality_score": "histogram",
    "livekit_node_packet_total": "gauge",
}
"""livekit-server v1.13.5 metrics this dashboard reads, as its Prometheus endpoint names them
(the Go client adds no suffixes); ``tests/e2e/test_dashboards_live.py`` reads them off a real
server."""


def _m(name: str) -> str:
    if name not in LIVEKIT_SERVER_METRICS:
        raise KeyError(f"{name} is not in LIVEKIT_SERVER_METRICS")
    return name


def _p95(name: str, by: str = "direction, type") -> str:
    bucket = f"{_m(name)}_bucket"
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile(0.95, sum by ({labels}) ({rate(bucket)}))"


def _q(q: str, name: str) -> str:
    return f"histogram_quantile({q}, sum by (le) ({rate(_m(name) + '_bucket')}))"


def _stats() -> list[PanelBuilder]:
    jobs = (
        f"sum({c.SDK_ACTIVE_JOBS.exposed} * on (job, instance) group_left (agent_name) "
        f'{c.BUILD_INFO.name}{{agent_name=~"$agent_name"}})'
    )
    return [
        stat_panel(
            "Rooms",
            "Rooms open on the selected LiveKit nodes (livekit_room_total).",
            (0, 0, 6, 4),
            prom_target(f"sum({scoped(_m('livekit_room_total'))})"),
        ),
        stat_panel(
            "Participants",
            "Participants connected to the selected nodes, agents included "
            "(livekit_participant_total).",
            (6, 0, 6, 4),
            prom_target(f"sum({scoped(_m('livekit_participant_total'))})"),
        ),
        stat_panel(
            "Agent jobs",
            f"Jobs running on the workers of the selected agents ({c.SDK_ACTIVE_JOBS.name} "
            f"joined with {c.BUILD_INFO.name} on the worker target). Compare with Rooms.",
            (12, 0, 6, 4),
            prom_target(jobs),
        ),
        stat_panel(
            "Published tracks",
            "Tracks currently published on the selected nodes, all kinds "
            "(livekit_track_published_total).",
            (18, 0, 6, 4),
            prom_target(f"sum({scoped(_m('livekit_track_published_total'))})"),
        ),
    ]


def _traffic() -> list[PanelBuilder]:
    by_transmission = "sum by (direction, transmission)"
    return [
        timeseries_panel(
            "Rooms and participants",
            "Open rooms and connected participants over time.",
            (0, 4, 12, 8),
            "none",
            [
                prom_target(f"sum({scoped(_m('livekit_room_total'))})", "rooms"),
                prom_target(f"sum({scoped(_m('livekit_participant_total'))})", "participants"),
            ],
        ),
        timeseries_panel(
            "Tracks by kind",
            "Published and subscribed tracks by kind (AUDIO, VIDEO, DATA).",
            (12, 4, 12, 8),
            "none",
            [
                prom_target(
                    f"sum by (kind) ({scoped(_m('livekit_track_published_total'))})",
                    "published {{kind}}",
                ),
                prom_target(
                    f"sum by (kind) ({scoped(_m('livekit_track_subscribed_total'))})",
                    "subscribed {{kind}}",
                ),
            ],
        ),
        timeseries_panel(
            "Packets",
            "RTP packets per second in and out of the SFU (livekit_packet_total), initial "
            "transmissions and retransmissions.",
            (0, 12, 12, 8),
            "pps",
            [
                prom_target(
                    f"{by_transmission} ({rate(_m('livekit_packet_total'))})",
                    "{{direction}} {{transmission}}",
                )
            ],
        ),
        timeseries_panel(
            "Bandwidth",
            "RTP bytes per second in and out of the SFU (livekit_packet_bytes).",
            (12, 12, 12, 8),
            "Bps",
            [
                prom_target(
                    f"{by_transmission} ({rate(_m('livekit_packet_bytes'))})",
                    "{{direction}} {{transmission}}",
                )
            ],
        ),
    ]


def _or_zero(expr: str) -> str:
    return f"{expr} or on() vector(0)"


def _loss() -> list[PanelBuilder]:
    def rtcp(name: str, label: str) -> object:
        return prom_target(
            _or_zero(f"sum by (direction) ({rate(_m(name))})"), f"{label} {{{{direction}}}}"
        )

    return [
        timeseries_panel(
            "Packet loss",
            "Lost RTP packets per second by direction and track type "
            "(livekit_packet_loss_total). Packets only: see the % panel for the ratio.",
            (0, 20, 8, 8),
            "pps",
            [
                prom_target(
                    _or_zero(f"sum by (direction, type) ({rate(_m('livekit_packet_loss_total'))})"),
                    "lost {{direction}} {{type}}",
                )
            ],
        ),
        timeseries_panel(
            "Packet loss % (p95 per report)",
            "p95 of the per-stream loss percentage reports (livekit_packet_loss_percent, "
            "0-100) by direction and track type.",
            (8, 20, 8, 8),
            "percent",
            [prom_target(_p95("livekit_packet_loss_percent"), "{{direction}} {{type}}")],
            max_value=100,
        ),
        timeseries_panel(
            "NACK / PLI / FIR",
            "RTCP feedback per second: NACKs (retransmission requests), PLIs and FIRs "
            "(keyframe requests), by direction. NACK spikes track packet loss.",
            (16, 20, 8, 8),
            "suffix: /s",
            [
                rtcp("livekit_nack_total", "NACK"),  # type: ignore[list-item]
                rtcp("livekit_pli_total", "PLI"),  # type: ignore[list-item]
                rtcp("livekit_fir_total", "FIR"),  # type: ignore[list-item]
            ],
        ),
    ]


def _latency() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Jitter p95",
            "p95 of reported stream jitter (livekit_jitter_us) by direction and track type.",
            (0, 28, 8, 8),
            "µs",
            [prom_target(_p95("livekit_jitter_us"), "{{direction}} {{type}}")],
        ),
        timeseries_panel(
            "RTT p95",
            "p95 round-trip time to participants (livekit_rtt_ms) by direction and track type.",
            (8, 28, 8, 8),
            "ms",
            [prom_target(_p95("livekit_rtt_ms"), "{{direction}} {{type}}")],
        ),
        timeseries_panel(
            "Forwarding latency p95",
            "p95 time the SFU takes to forward a packet (livekit_forward_latency_ns).",
            (16, 28, 8, 8),
            "ns",
            [prom_target(_p95("livekit_forward_latency_ns", by=""), "p95")],
        ),
    ]


def _sessions() -> list[PanelBuilder]:
    dropped = scoped(_m("livekit_node_packet_total"), 'type="dropped"')
    return [
        timeseries_panel(
            "Participant join funnel",
            "Participant join stages per second (livekit_participant_join_total by state): "
            "signal_connected -> rtc_init -> rtc_connected -> rtc_active; *_failed and "
            "rtc_failure show where joins break.",
            (0, 36, 12, 8),
            "suffix: joins/s",
            [
                prom_target(
                    f"sum by (state) ({rate(_m('livekit_participant_join_total'))})", "{{state}}"
                )
            ],
        ),
        timeseries_panel(
            "Session join latency",
            "p50/p95 time for a participant to join a room (livekit_session_join_latency_ms).",
            (12, 36, 12, 8),
            "ms",
            [
                prom_target(_q("0.95", "livekit_session_join_latency_ms"), "p95"),
                prom_target(_q("0.50", "livekit_session_join_latency_ms"), "p50"),
            ],
        ),
        timeseries_panel(
            "Connection quality score",
            "p50 and p05 of the connection quality scores the server computes "
            "(livekit_quality_score, 1 = poor .. 5 = excellent).",
            (0, 44, 12, 8),
            "none",
            [
                prom_target(_q("0.50", "livekit_quality_score"), "p50"),
                prom_target(_q("0.05", "livekit_quality_score"), "p05"),
            ],
            max_value=5,
        ),
        timeseries_panel(
            "Node packets dropped",
            "Packets dropped by the node's network stack since the server started "
            '(livekit_node_packet_total{type="dropped"}), per second.',
            (12, 44, 12, 8),
            "pps",
            [prom_target(f"sum({rate(dropped, fn='deriv')})", "dropped")],
        ),
    ]


def build() -> dash_b.Dashboard:
    """The LiveKit Server dashboard."""
    panels = [*_stats(), *_traffic(), *_loss(), *_latency(), *_sessions()]
    return dashboard(
        UID,
        "LiveKit Server",
        "The LiveKit SFU the agents connect to: rooms, participants, tracks, packets, "
        "bandwidth, loss, RTCP feedback, jitter/RTT and join health, from livekit-server's "
        "Prometheus endpoint.",
        panels,
        [
            variables.datasource(),
            variables.agent_name(),
            variables.instance(
                _m("livekit_room_total"),
                "LiveKit node",
                "livekit-server scrape targets (host:port of its Prometheus port).",
            ),
        ],
    )
