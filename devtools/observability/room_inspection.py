"""The "LiveKit Agent Worker - Room inspection" dashboard: what happened in this room?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import table, text
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import text as text_m

from telemetry import catalogue as c

from . import variables
from .panels import (
    TEMPO,
    PanelBuilder,
    dashboard,
    prom_target,
    tempo_target,
    timeseries_panel,
)
from .queries import quantile, rate

__all__ = ["TRACEQL_QUERIES", "UID", "build"]

UID = "lk-room-inspection"

_IN_ROOM = '{ name = "job_entrypoint" && span."lk.room_sid" = "$room_sid" }'
BY_SID = '{ span."lk.room_sid" = "$room_sid" }'
BY_NAME = '{ span."lk.pii.room_name" = "$room_name" }'
PARTICIPANTS = (
    f'{_IN_ROOM} >> {{ name = "participant" }} | select(span."lk.participant_id", '
    'span."lk.participant_kind", span."lk.disconnect_reason")'
)
TRACK_EVENTS = (
    f'{_IN_ROOM} >> {{ name = "participant" && event:name =~ '
    '"track_published|track_unpublished" } | select(span."lk.participant_id", '
    'event."lk.track_sid", event."lk.track_source", event."lk.track_kind", '
    'event."lk.track_mime_type")'
)
LIFECYCLE = f'{_IN_ROOM} >> {{ name =~ "room_connect|room_disconnect|job_shutdown" }}'
DISCONNECTED = '{ span."lk.room_sid" = "$room_sid" && event:name = "room_disconnected" }'

CONVERSATION = (
    f'{_IN_ROOM} >> {{ name = "agent_turn" }} | select(span."lk.speech_id", '
    'span."lk.end_of_turn_delay", span."lk.transcription_delay", span."lk.e2e_latency", '
    'span."lk.interrupted", span."lk.interruption.source")'
)
PROVIDER_REQUESTS = (
    f'{_IN_ROOM} >> {{ name =~ "llm_node|tts_node|llm_request" }} | select('
    'span."lk.response.ttft", span."lk.response.ttfb", span."gen_ai.request.model", '
    'span."gen_ai.usage.input_tokens", span."gen_ai.usage.output_tokens")'
)
TRANSCRIPT = (
    f'{_IN_ROOM} >> {{ name =~ "user_turn|agent_turn" }} | select(span."lk.pii.user_transcript", '
    'span."lk.pii.response.text")'
)

TRACEQL_QUERIES = (
    BY_SID,
    BY_NAME,
    PARTICIPANTS,
    TRACK_EVENTS,
    LIFECYCLE,
    DISCONNECTED,
    CONVERSATION,
    PROVIDER_REQUESTS,
    TRANSCRIPT,
)
"""Every TraceQL query of the dashboard (the Trace panel looks a trace up by id instead)."""

_SHOW_BELOW = (
    f"/d/{UID}/room-inspection?${{__url_time_range}}&var-room_sid=${{room_sid}}"
    "&var-room_name=${room_name}&var-trace_id=${__value.raw}"
)


def _how_to() -> text.Panel:
    return (
        text.Panel()
        .title("How to use")
        .description("Where the room SID comes from and how the panels below relate.")
        .grid_pos(dm.GridPos(h=3, w=24, x=0, y=0))
        .unit("none")
        .mode(text_m.TextMode.MARKDOWN)
        .content(
            "Paste a **room SID** (`RM_...`) into *Room SID*: from the LiveKit server, from a "
            "job's logs, or from a trace reached through an exemplar on the Worker overview. "
            "*Room name* searches `lk.pii.room_name` and is meant for environments where room "
            "names may be shown. Click a **Trace ID** in a table to load that trace in the "
            "*Trace* panel (or open it in Explore)."
        )
        .code(
            text.CodeOptions()
            .language(text_m.CodeLanguage.PLAINTEXT)
            .show_line_numbers(False)
            .show_mini_map(False)
        )
    )


def _traces_table(
    title: str, description: str, grid: tuple[int, int, int, int], *targets: object
) -> table.Panel:
    x, y, w, h = grid
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))
        .datasource(TEMPO)
        .unit("none")
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)
        .show_header(True)
        .cell_height(cm.TableCellHeight.SM)
    )
    for ref_id, target in zip("ABC", targets, strict=False):
        panel.with_target(target.ref_id(ref_id))  # type: ignore[attr-defined]
    return panel


def _with_show_below(panel: table.Panel) -> table.Panel:
    link = {"title": "Show this trace below", "url": _SHOW_BELOW}
    return panel.override_by_name("traceID", [dm.DynamicConfigValue(id_val="links", value=[link])])


def _trace_panels() -> list[PanelBuilder]:
    return [
        _with_show_below(
            _traces_table(
                "Jobs in room (by SID)",
                "Traces whose spans carry lk.room_sid = $room_sid: one per job the workers ran "
                "for this room (root span job_entrypoint). Duration is the whole job.",
                (0, 3, 12, 8),
                tempo_target(BY_SID, table_type="traces"),
            )
        ),
        _with_show_below(
            _traces_table(
                "Jobs in room (by name, PII)",
                "Same search by room name (span attribute lk.pii.room_name). Room names can be "
                "personal data: use only where PII may be displayed.",
                (12, 3, 12, 8),
                tempo_target(BY_NAME, table_type="traces"),
            )
        ),
        _traces_table(
            "Participant timeline",
            "One participant span per remote participant of the room, ordered by start: when "
            "each joined, how long it stayed, its kind and why it left (lk.disconnect_reason).",
            (0, 11, 12, 9),
            tempo_target(PARTICIPANTS, limit=50),
        ),
        _traces_table(
            "Track events",
            "Participant spans with track_published / track_unpublished events: which tracks "
            "(lk.track_sid, source, kind, codec) each participant published and when.",
            (12, 11, 12, 9),
            tempo_target(TRACK_EVENTS, limit=50),
        ),
        _traces_table(
            "Job lifecycle spans",
            "room_connect, room_disconnect and job_shutdown spans of the room's jobs, and the "
            "root span when it recorded a room_disconnected event: connect time, shutdown time "
            "and disconnect reason.",
            (0, 20, 24, 7),
            tempo_target(LIFECYCLE),
            tempo_target(DISCONNECTED),
        ),
        dash_b.Panel()
        .type("traces")
        .title("Trace")
        .description(
            "The trace selected with Trace ID (click a trace ID in the tables above): the "
            "job_entrypoint root with room_connect, one participant span per remote "
            "participant with its track events, and room_disconnect / job_shutdown."
        )
        .grid_pos(dm.GridPos(h=14, w=24, x=0, y=27))
        .datasource(TEMPO)
        .unit("none")
        .with_target(tempo_target("$trace_id", limit=1, table_type=None).ref_id("A")),
    ]


def _metric_panels() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Dispatch latency with exemplars",
            "p95 dispatch latency of the selected workers. Each exemplar point is one job: "
            "hover to see its trace_id, click to open the trace; copy the lk.room_sid of a slow "
            "one into Room SID.",
            (0, 41, 12, 8),
            "s",
            [prom_target(quantile("0.95", c.DISPATCH_LATENCY), "p95", exemplar=True)],
        ),
        timeseries_panel(
            "Job failures by reason",
            "Failed jobs per second on the selected workers, by reason; a failing room's trace "
            "has an error status on job_entrypoint.",
            (12, 41, 12, 8),
            "suffix: jobs/s",
            [prom_target(f"sum by (reason) ({rate(c.JOBS_FAILED)})", "{{reason}}")],
        ),
    ]


def _conversation_panels() -> list[PanelBuilder]:
    return [
        _traces_table(
            "Conversation: turns in order",
            "The room's agent replies (agent_turn spans of the voice pipeline), ordered by "
            "start, with the SDK's per-turn stages in seconds: end of turn, transcription, "
            "end to end (user stops speaking → agent audio starts), and whether the user "
            "interrupted it. The LLM and TTS first-byte figures are on the requests below.",
            (0, 49, 24, 9),
            tempo_target(CONVERSATION, limit=50),
        ),
        _traces_table(
            "LLM and TTS of each turn",
            "Per turn, the llm_node's time to first token (lk.response.ttft) and the "
            "tts_node's time to first audio byte (lk.response.ttfb), the same figures as the "
            "dashboards' llm_ttft and tts_ttfb stages; and each llm_request's model and "
            "tokens. A failed request has an error status.",
            (0, 58, 12, 9),
            tempo_target(PROVIDER_REQUESTS, limit=50),
        ),
        _traces_table(
            "Transcript (PII)",
            "What the user said (user_turn, lk.pii.user_transcript) and what the agent said "
            "(agent_turn, lk.pii.response.text), in order. Recorded only where ALLOW_PII=true: "
            "with it false the SDK drops these attributes before export and this table is empty.",
            (12, 58, 12, 9),
            tempo_target(TRANSCRIPT, limit=50),
        ),
    ]


def build() -> dash_b.Dashboard:
    """The Room inspection dashboard."""
    return dashboard(
        UID,
        "LiveKit Agent Worker - Room inspection",
        "One room through its traces: the jobs that served it, participant and track "
        "timeline, lifecycle spans, the voice conversation turn by turn and the full "
        "trace, searched by room SID (or room name where PII is allowed).",
        [_how_to(), *_trace_panels(), *_metric_panels(), *_conversation_panels()],
        [
            *variables.for_workers(),
            variables.textbox("room_sid", "Room SID", "LiveKit room SID (RM_...) to inspect."),
            variables.textbox(
                "room_name",
                "Room name (PII)",
                "Room name; searches lk.pii.room_name. Use only where PII may be shown.",
            ),
            variables.textbox("trace_id", "Trace ID", "Trace shown in the Trace panel."),
        ],
    )
