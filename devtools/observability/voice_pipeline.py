"""The "LiveKit Agent Worker - Voice pipeline" dashboard: where did the seconds of a reply go?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models import dashboard as dm

from telemetry import catalogue as c

from . import variables
from .panels import PanelBuilder, dashboard, prom_target, stat_panel, timeseries_panel
from .queries import quantile, rate, scoped
from .rules import E2E_OBJECTIVE_SECONDS, E2E_SLO_TARGET

__all__ = ["PRICES", "UID", "build"]

UID = "lk-voice-pipeline"

PRICES = {
    "llm_input_usd_per_mtok": ("LLM input $/1M tokens", "0.15"),
    "llm_cached_usd_per_mtok": ("LLM cached input $/1M tokens", "0.075"),
    "llm_output_usd_per_mtok": ("LLM output $/1M tokens", "0.60"),
    "tts_usd_per_mchar": ("TTS $/1M characters", "50"),
    "stt_usd_per_minute": ("STT $/minute", "0.0077"),
}
"""Unit prices as dashboard variables (name → label, default): edit them to your contract."""

_E2E = 'stage="end_to_end"'
_BY = "provider, model"


def _increase(metric: c.Metric, extra: str = "") -> str:
    return f"sum by ({_BY}) ({rate(scoped(metric.exposed, extra), '$__range', 'increase')})"


def _latency() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            f"Turn latency by stage, p{q}",
            f"p{q} of each stage of the turns on the selected workers, as the SDK reports "
            "each turn (ChatMessage.metrics): end_of_turn (user stops speaking → turn "
            "decided), transcription (→ final transcript), llm_ttft, tts_ttfb, end_to_end "
            "(user stops speaking → agent audio starts). Exemplar points are single turns: "
            "click one to open the room's trace and find its agent_turn span.",
            (8 * i, 4, 8, 9),
            "s",
            [
                prom_target(
                    quantile(f"0.{q.rstrip('0')}", c.VOICE_TURN_LATENCY, by="stage"),
                    "{{stage}}",
                    exemplar=True,
                )
            ],
        )
        for i, q in enumerate(("50", "95", "99"))
    ]


def _stats() -> list[PanelBuilder]:
    under = f'le="{E2E_OBJECTIVE_SECONDS}", {_E2E}'
    good = rate(scoped(c.VOICE_TURN_LATENCY.bucket, under), "$__range", "increase")
    total = rate(scoped(f"{c.VOICE_TURN_LATENCY.name}_count", _E2E), "$__range", "increase")
    return [
        stat_panel(
            f"Turns under {E2E_OBJECTIVE_SECONDS:g} s (range)",
            f"Share of turns whose end-to-end latency was at most {E2E_OBJECTIVE_SECONDS:g} s "
            f"over the selected range: the SLO (objective {E2E_SLO_TARGET:.0%} of turns). "
            "The AgentWorkerVoiceLatencySLOBurn alerts read the same ratio.",
            (0, 0, 6, 4),
            prom_target(
                f"sum({good}) / sum({total})",
                exemplar=True,
            ),
            unit="percentunit",
            steps=((None, "red"), (E2E_SLO_TARGET, "green")),
            decimals=1,
        ),
        stat_panel(
            "Voice sessions",
            f"Voice sessions running now ({c.VOICE_SESSIONS_ACTIVE.name}).",
            (6, 0, 6, 4),
            prom_target(f"sum({scoped(c.VOICE_SESSIONS_ACTIVE.exposed)})"),
        ),
        stat_panel(
            "Turns (range)",
            f"Agent replies over the selected range ({c.VOICE_TURNS.exposed}).",
            (12, 0, 6, 4),
            prom_target(f"sum({rate(c.VOICE_TURNS, '$__range', 'increase')})"),
            decimals=0,
        ),
        stat_panel(
            "Impossible latencies (range)",
            "Stage latencies the SDK reported negative or over 60 s: counted, not plotted "
            f"({c.VOICE_INVALID_LATENCY.exposed}). Anything above 0 is an SDK bug to report.",
            (18, 0, 6, 4),
            prom_target(f"sum({rate(c.VOICE_INVALID_LATENCY, '$__range', 'increase')})"),
            steps=((None, "green"), (1, "red")),
            decimals=0,
        ),
    ]


def _turns() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Turns and interruptions",
            "Agent replies per second by outcome (interrupted: the user spoke over the agent) "
            "and the interruptions the SDK judged false (noise; resumed or not).",
            (0, 13, 8, 8),
            "suffix: /s",
            [
                prom_target(f"sum by (outcome) ({rate(c.VOICE_TURNS)})", "{{outcome}}"),
                prom_target(
                    f"sum by (resumed) ({rate(c.VOICE_FALSE_INTERRUPTIONS)})",
                    "false interruption, resumed={{resumed}}",
                ),
            ],
        ),
        timeseries_panel(
            "Provider errors",
            "Failed provider requests per second (each attempt; the plugins retry), by "
            "provider and kind. Failing requests are ERROR spans (llm_request, tts_request, "
            "stt) in the room's trace.",
            (8, 13, 8, 8),
            "suffix: /s",
            [
                prom_target(
                    f"sum by (provider, kind) ({rate(c.VOICE_PROVIDER_ERRORS)})",
                    "{{provider}} {{kind}}",
                )
            ],
        ),
        timeseries_panel(
            "LLM request (GenAI conventions)",
            "Per LLM request, from the OpenTelemetry GenAI metrics: p95 time to first chunk "
            "and p95 duration. The per-turn llm_ttft above is the SDK's node-level figure.",
            (16, 13, 8, 8),
            "s",
            [
                prom_target(
                    quantile("0.95", c.VOICE_TIME_TO_FIRST_CHUNK), "time to first chunk p95"
                ),
                prom_target(quantile("0.95", c.VOICE_OPERATION_DURATION), "duration p95"),
            ],
        ),
    ]


def _usage() -> list[PanelBuilder]:
    p = {name: f"${name}" for name in PRICES}
    tokens = c.VOICE_LLM_TOKENS
    used = {kind: _increase(tokens, f'type="{kind}"') for kind in c.VOICE_LLM_TOKEN_TYPES}
    llm_cost = (
        f"({used['input']} - {used['cached_input']}) * {p['llm_input_usd_per_mtok']} / 1e6"
        f" + {used['cached_input']} * {p['llm_cached_usd_per_mtok']} / 1e6"
        f" + {used['output']} * {p['llm_output_usd_per_mtok']} / 1e6"
    )
    return [
        timeseries_panel(
            "LLM tokens",
            "LLM tokens per second by provider, model and type (cached_input is part of "
            "input), as the provider reported them.",
            (0, 21, 8, 8),
            "suffix: tokens/s",
            [
                prom_target(
                    f"sum by ({_BY}, type) ({rate(tokens)})", "{{provider}} {{model}} {{type}}"
                ),
                prom_target(
                    f"sum by (gen_ai_provider_name) ({rate(c.VOICE_TOKEN_USAGE.name + '_sum')})",
                    "{{gen_ai_provider_name}} (gen_ai_client_token_usage)",
                ),
            ],
        ),
        timeseries_panel(
            "Speech audio and characters",
            "STT audio seconds and TTS audio seconds per second (1 = one conversation's worth "
            "of real time), TTS characters per second.",
            (8, 21, 8, 8),
            "short",
            [
                prom_target(
                    f"sum by ({_BY}) ({rate(c.VOICE_STT_AUDIO)})", "STT audio {{provider}}"
                ),
                prom_target(
                    f"sum by ({_BY}) ({rate(c.VOICE_TTS_AUDIO)})", "TTS audio {{provider}}"
                ),
                prom_target(
                    f"sum by ({_BY}) ({rate(c.VOICE_TTS_CHARACTERS)})", "TTS chars {{provider}}"
                ),
            ],
        ),
        stat_panel(
            "Estimated cost (range, USD)",
            "Usage over the selected range times the unit prices in the dashboard variables "
            "(edit them to your contract), by provider and model. An estimate: providers bill "
            "by their own rounding.",
            (16, 21, 8, 8),
            prom_target(
                f"({llm_cost}) or ({_increase(c.VOICE_TTS_CHARACTERS)} * {p['tts_usd_per_mchar']}"
                f" / 1e6) or ({_increase(c.VOICE_STT_AUDIO)} / 60 * {p['stt_usd_per_minute']})",
                "{{provider}} {{model}}",
            ),
            unit="currencyUSD",
            decimals=4,
        ),
        timeseries_panel(
            "Tool call duration p95",
            "p95 time from a function tool call to its output, by outcome.",
            (0, 29, 24, 6),
            "s",
            [
                prom_target(
                    quantile("0.95", c.VOICE_TOOL_CALL_DURATION, by="outcome"), "{{outcome}}"
                )
            ],
        ),
    ]


def _price(name: str, label: str, default: str) -> dash_b.TextBoxVariable:
    return (
        dash_b.TextBoxVariable(name)
        .label(label)
        .description(f"{label}: unit price for the estimated cost panel.")
        .default_value(default)
        .current(dm.VariableOption(selected=False, text=default, value=default))
        .hide(dm.VariableHide.DONT_HIDE)
    )


def build() -> dash_b.Dashboard:
    """The Voice pipeline dashboard."""
    prices = [_price(name, label, default) for name, (label, default) in PRICES.items()]
    return dashboard(
        UID,
        "LiveKit Agent Worker - Voice pipeline",
        "Per-turn latency by stage (with trace exemplars), the end-to-end SLO, turns and "
        "interruptions, provider errors, usage and estimated cost by provider and model.",
        [*_stats(), *_latency(), *_turns(), *_usage()],
        [*variables.for_workers(), *prices],
    )
