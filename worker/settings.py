"""Runtime settings: the one place the worker reads its environment.

Every variable the worker understands is a field of :class:`RuntimeSettings`, loaded from
the process environment and an optional ``.env`` file. Standard OpenTelemetry variables keep
their specification names (``OTEL_*``); they are validated here so that a typo fails at
start-up, but the OpenTelemetry SDK still reads them itself, as the specification says.

Importing this module reads nothing: the command line calls :func:`get_settings` once and
hands the settings on.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Literal, NoReturn
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from telemetry.tracing import DEFAULT_SERVICE_NAME

__all__ = [
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "ConfigError",
    "LogFormat",
    "LogLevel",
    "RuntimeSettings",
    "VOICE_KEYS",
    "describe_validation_error",
    "exit_on_config_error",
    "get_settings",
    "load_settings",
    "settings_or_exit",
]

# The credentials `livekit-server --dev` accepts; fine on a laptop, never in production.
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]
Port = Annotated[int, Field(ge=1, le=65535)]

_URL_SCHEMES = ("ws", "wss", "http", "https")

VOICE_KEYS = ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY")
"""The providers' API keys, under the plugins' own variable names; needed with the pipeline on."""
# Cartesia's default voice ("Katie"), as the plugin has it (livekit.plugins.cartesia.models)
_CARTESIA_DEFAULT_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"


class ConfigError(Exception):
    """A setting the user gave cannot be used; the message names it in one line."""


class RuntimeSettings(BaseSettings):
    """All settings of the worker process and its job processes.

    Creating an instance only reads and validates; it starts nothing and writes nothing.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        extra="ignore",
    )

    # LiveKit server; the defaults are `livekit-server --dev` on this machine
    LIVEKIT_URL: str = "ws://localhost:7880"
    LIVEKIT_API_KEY: str = DEV_API_KEY
    LIVEKIT_API_SECRET: SecretStr = SecretStr(DEV_API_SECRET)
    ALLOW_DEV_CREDENTIALS_IN_PRODUCTION: bool = False

    PLATFORM_API_URL: str = "http://localhost:8000"
    AGENT_NAME: str = ""

    LOG_LEVEL: LogLevel = "INFO"
    LOG_FORMAT: LogFormat = "text"

    WORKER_NUM_IDLE_PROCESSES: int = Field(default=3, ge=0)
    WORKER_DRAIN_TIMEOUT: int = Field(default=600, ge=0)
    # None: the SDK's load (the machine's CPU use); a number: active jobs / this number
    WORKER_MAX_JOBS: int | None = Field(default=None, ge=1)
    # seconds a job stays in a room left empty, for people who come back; LiveKit's own
    # departure_timeout (how long the server keeps an emptied room) is 20 s by default
    AGENT_DEPARTURE_TIMEOUT: float = Field(default=20.0, ge=0)

    # health (the SDK's /, /worker) and Prometheus are two ports on one bind host
    BIND_HOST: str = "127.0.0.1"
    HEALTH_PORT: Port = 8081
    METRICS_PORT: Port = 9464
    PROMETHEUS_MULTIPROC_DIR: Path | None = None

    # personal data (room names, participant identities) in spans and logs
    ALLOW_PII: bool = True

    # standard OpenTelemetry variables, validated only (the SDK reads them itself)
    OTEL_SDK_DISABLED: bool = False
    OTEL_SERVICE_NAME: str = DEFAULT_SERVICE_NAME
    OTEL_TRACES_EXPORTER: Literal["otlp", "console", "none"] = "otlp"
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: str | None = None
    # http/protobuf: the specification's default, and about 0.02-0.06 s less CPU per job
    # process than gRPC's channel and threads (bench/README.md)
    OTEL_EXPORTER_OTLP_PROTOCOL: Literal["grpc", "http/protobuf"] = "http/protobuf"
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Literal["grpc", "http/protobuf"] | None = None
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: int = Field(default=4096, ge=1)
    # spans the main process holds for export, handed over by all job processes together;
    # beyond it an arriving batch is dropped and counted (reason relay_queue_full)
    SPAN_RELAY_QUEUE_SIZE: int = Field(default=8192, ge=1)
    DEPLOYMENT_ENVIRONMENT: str = "development"

    # the voice pipeline: off serves the room only; on runs an AgentSession in it
    VOICE_PIPELINE: Literal["off", "on"] = "off"
    VOICE_INSTRUCTIONS: str = (
        "You are a helpful voice assistant. Answer briefly, in one or two sentences."
    )
    VOICE_STT_MODEL: str = "nova-3"
    VOICE_STT_LANGUAGE: str = "en-US"
    VOICE_STT_BASE_URL: str = "https://api.deepgram.com/v1/listen"
    VOICE_LLM_MODEL: str = "gpt-4o-mini"
    VOICE_LLM_BASE_URL: str = "https://api.openai.com/v1"
    VOICE_TTS_MODEL: str = "sonic-3"
    VOICE_TTS_VOICE: str = _CARTESIA_DEFAULT_VOICE
    VOICE_TTS_BASE_URL: str = "https://api.cartesia.ai"
    DEEPGRAM_API_KEY: SecretStr | None = None
    OPENAI_API_KEY: SecretStr | None = None
    CARTESIA_API_KEY: SecretStr | None = None

    @field_validator(
        "LIVEKIT_URL",
        "PLATFORM_API_URL",
        "VOICE_STT_BASE_URL",
        "VOICE_LLM_BASE_URL",
        "VOICE_TTS_BASE_URL",
    )
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in _URL_SCHEMES or not parsed.netloc:
            raise ValueError(f"must be a {'/'.join(_URL_SCHEMES)} URL with a host, got {value!r}")
        return value

    @field_validator("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    @classmethod
    def _check_otlp_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"must be an http(s)://host:port URL, got {value!r}")
        try:
            _ = parsed.port
        except ValueError:
            raise ValueError(f"has an invalid port: {value!r}") from None
        return value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("LIVEKIT_API_SECRET")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _check_ports(self) -> RuntimeSettings:
        if self.HEALTH_PORT == self.METRICS_PORT:
            raise ValueError(
                f"HEALTH_PORT and METRICS_PORT must differ (both are {self.HEALTH_PORT})"
            )
        return self

    @model_validator(mode="after")
    def _check_secret_given(self) -> RuntimeSettings:
        # the default secret is the dev server's: with any other key it is a forgotten
        # secret, which would only surface later as a failed registration
        if (
            self.LIVEKIT_API_KEY != DEV_API_KEY
            and "LIVEKIT_API_SECRET" not in self.model_fields_set
        ):
            raise ValueError(
                "LIVEKIT_API_SECRET: must be set when LIVEKIT_API_KEY is not the dev key"
            )
        return self

    @property
    def sdk_log_level(self) -> str:
        """The level in the SDK's spelling (it knows ``WARN``, not ``WARNING``)."""
        return "WARN" if self.LOG_LEVEL == "WARNING" else self.LOG_LEVEL

    @property
    def traces_protocol(self) -> Literal["grpc", "http/protobuf"]:
        """The OTLP protocol of span export: the traces-specific variable, else the general one."""
        return self.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or self.OTEL_EXPORTER_OTLP_PROTOCOL

    @property
    def metrics_dir(self) -> Path:
        """Where job processes write their Prometheus multiprocess files."""
        if self.PROMETHEUS_MULTIPROC_DIR is not None:
            return self.PROMETHEUS_MULTIPROC_DIR
        return Path(tempfile.gettempdir()) / f"livekit-agent-worker-metrics-{self.METRICS_PORT}"

    @property
    def uses_dev_credentials(self) -> bool:
        """Whether the credentials are the public ones of ``livekit-server --dev``."""
        return (
            self.LIVEKIT_API_KEY == DEV_API_KEY
            and self.LIVEKIT_API_SECRET.get_secret_value() == DEV_API_SECRET
        )

    @property
    def missing_voice_keys(self) -> list[str]:
        """The provider keys the pipeline needs and lacks (none while it is off)."""
        if self.VOICE_PIPELINE == "off":
            return []
        return [
            name
            for name in VOICE_KEYS
            if (key := getattr(self, name)) is None or not key.get_secret_value().strip()
        ]

    def check_voice_keys(self) -> None:
        """Refuse the pipeline without its providers' keys, naming the first missing one.

        Raises:
            ConfigError: the pipeline is on and a key is unset or empty.
        """
        missing = self.missing_voice_keys
        if missing:
            raise ConfigError(
                f"{missing[0]}: must be set when VOICE_PIPELINE=on "
                f"(missing: {', '.join(missing)})"
            )

    def check_production(self) -> None:
        """Refuse the public dev credentials in production mode unless explicitly allowed.

        Raises:
            ConfigError: the dev credentials are set and not allowed.
        """
        if self.uses_dev_credentials and not self.ALLOW_DEV_CREDENTIALS_IN_PRODUCTION:
            raise ConfigError(
                "LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the livekit-server --dev credentials are "
                "refused in production mode (set ALLOW_DEV_CREDENTIALS_IN_PRODUCTION=true to "
                "allow them)"
            )


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid variable and what is wrong with it, no values echoed.

    Args:
        error: the error pydantic raised while loading settings.

    Returns:
        A single line, suitable for a terminal or a log collector.
    """
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings() -> RuntimeSettings:
    """Load the settings, turning a validation error into a one-line :class:`ConfigError`.

    Returns:
        The validated settings.

    Raises:
        ConfigError: a variable is invalid.
    """
    try:
        return RuntimeSettings()
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


@functools.cache
def get_settings() -> RuntimeSettings:
    """The process's settings, loaded from the environment on the first call only.

    Raises:
        ConfigError: a variable is invalid (the next call tries again).
    """
    return load_settings()


def exit_on_config_error(error: ConfigError) -> NoReturn:
    """End a command line on a configuration error: one line on stderr and exit code 2."""
    # before logging is set up, and a traceback would bury the one line
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(2) from None


def settings_or_exit() -> RuntimeSettings:
    """:func:`get_settings` for a command line: an invalid variable ends it with exit code 2."""
    try:
        return get_settings()
    except ConfigError as error:
        exit_on_config_error(error)
