"""Settings: defaults, validation, and the one-line errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.settings import (
    ConfigError,
    RuntimeSettings,
    describe_validation_error,
)


def _settings(**values: object) -> RuntimeSettings:
    return RuntimeSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_match_livekit_dev_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(RuntimeSettings.model_fields):
        monkeypatch.delenv(name, raising=False)
    settings = _settings()
    assert settings.LIVEKIT_URL == "ws://localhost:7880"
    assert settings.LIVEKIT_API_KEY == "devkey"
    assert settings.LIVEKIT_API_SECRET.get_secret_value() == "secret"
    assert settings.PLATFORM_API_URL == "http://localhost:8000"
    assert (settings.LOG_LEVEL, settings.LOG_FORMAT) == ("INFO", "text")
    assert settings.WORKER_NUM_IDLE_PROCESSES == 3
    assert (settings.HEALTH_PORT, settings.METRICS_PORT) == (8081, 9464)
    assert settings.BIND_HOST == "127.0.0.1"
    assert settings.AGENT_NAME == ""
    assert settings.AGENT_DEPARTURE_TIMEOUT == 20.0
    assert settings.uses_dev_credentials


def test_departure_timeout_is_seconds_not_below_zero() -> None:
    assert _settings(AGENT_DEPARTURE_TIMEOUT="2.5").AGENT_DEPARTURE_TIMEOUT == 2.5
    assert _settings(AGENT_DEPARTURE_TIMEOUT="0").AGENT_DEPARTURE_TIMEOUT == 0
    with pytest.raises(ValidationError, match="AGENT_DEPARTURE_TIMEOUT"):
        _settings(AGENT_DEPARTURE_TIMEOUT="-1")


def test_reads_environment_case_sensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_PORT", "9001")
    monkeypatch.setenv("health_port", "9002")
    assert _settings().HEALTH_PORT == 9001


def test_reads_dotenv_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("AGENT_NAME=support-agent\nLOG_FORMAT=json\n")
    settings = RuntimeSettings(_env_file=env)  # type: ignore[call-arg]
    assert (settings.AGENT_NAME, settings.LOG_FORMAT) == ("support-agent", "json")


def test_secret_is_never_printed() -> None:
    settings = _settings(LIVEKIT_API_SECRET="s3cr3t-value-1234")
    assert "s3cr3t-value-1234" not in repr(settings)
    assert "s3cr3t-value-1234" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL: Input should be"),
        ({"HEALTH_PORT": 70000}, "HEALTH_PORT: Input should be less than or equal to 65535"),
        ({"METRICS_PORT": 0}, "METRICS_PORT: Input should be greater than or equal to 1"),
        ({"HEALTH_PORT": 9000, "METRICS_PORT": 9000}, "HEALTH_PORT and METRICS_PORT must differ"),
        ({"LIVEKIT_URL": "localhost:7880"}, "LIVEKIT_URL: must be a ws/wss/http/https URL"),
        ({"LIVEKIT_URL": "ftp://example.com"}, "LIVEKIT_URL: must be a ws/wss/http/https URL"),
        ({"PLATFORM_API_URL": "api.example"}, "PLATFORM_API_URL: must be a ws/wss/http/https"),
        ({"VOICE_STT_BASE_URL": "ftp://stt"}, "VOICE_STT_BASE_URL: must be a ws/wss/http/https"),
        ({"VOICE_LLM_BASE_URL": "llm:8080"}, "VOICE_LLM_BASE_URL: must be a ws/wss/http/https"),
        ({"VOICE_TTS_BASE_URL": "https://"}, "VOICE_TTS_BASE_URL: must be a ws/wss/http/https"),
        ({"WORKER_NUM_IDLE_PROCESSES": -1}, "WORKER_NUM_IDLE_PROCESSES: Input should be greater"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT: Input should be 'text' or 'json'"),
        ({"LIVEKIT_API_SECRET": ""}, "LIVEKIT_API_SECRET: must not be empty"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "OTEL_EXPORTER_OTLP_ENDPOINT: must be"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT: has an"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_PROTOCOL: Input should"),
    ],
)
def test_invalid_values_give_one_line_naming_the_variable(
    values: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(**values)
    line = describe_validation_error(caught.value)
    assert "\n" not in line
    assert line.startswith("invalid configuration: ")
    assert expected in line


def test_log_level_is_case_insensitive_and_mapped_for_the_sdk() -> None:
    assert _settings(LOG_LEVEL="debug").LOG_LEVEL == "DEBUG"
    assert _settings(LOG_LEVEL="warning").sdk_log_level == "WARN"


def test_production_refuses_dev_credentials_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="refused in production mode"):
        _settings().check_production()
    _settings(ALLOW_DEV_CREDENTIALS_IN_PRODUCTION=True).check_production()
    _settings(LIVEKIT_API_KEY="prodkey", LIVEKIT_API_SECRET="long-secret").check_production()


def test_metrics_dir_defaults_per_metrics_port(tmp_path: Path) -> None:
    assert _settings(METRICS_PORT=9555).metrics_dir.name.endswith("-9555")
    assert _settings(PROMETHEUS_MULTIPROC_DIR=tmp_path).metrics_dir == tmp_path


def test_env_example_documents_every_setting() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.read_text().splitlines()
        if "=" in line
    }
    missing = set(RuntimeSettings.model_fields) - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_a_real_key_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_API_SECRET", raising=False)
    with pytest.raises(ValidationError, match="LIVEKIT_API_SECRET: must be set"):
        _settings(LIVEKIT_API_KEY="APIprod123")
    assert _settings(LIVEKIT_API_KEY="APIprod123", LIVEKIT_API_SECRET="s" * 32).LIVEKIT_API_KEY


def test_the_voice_pipeline_is_off_by_default_and_needs_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("VOICE_PIPELINE", "DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = _settings()
    assert settings.VOICE_PIPELINE == "off"
    assert settings.missing_voice_keys == []
    settings.check_voice_keys()


def test_the_voice_pipeline_on_lists_its_missing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = _settings(VOICE_PIPELINE="on", OPENAI_API_KEY="sk-1", CARTESIA_API_KEY="")
    assert settings.missing_voice_keys == ["DEEPGRAM_API_KEY", "CARTESIA_API_KEY"]
    with pytest.raises(ConfigError, match=r"^DEEPGRAM_API_KEY: must be set when VOICE_PIPELINE=on"):
        settings.check_voice_keys()


def test_the_provider_keys_are_secrets() -> None:
    settings = _settings(
        VOICE_PIPELINE="on",
        DEEPGRAM_API_KEY="dg-0042",
        OPENAI_API_KEY="sk-0042",
        CARTESIA_API_KEY="ca-0042",
    )
    assert settings.missing_voice_keys == []
    assert "0042" not in repr(settings) + str(settings.model_dump())
