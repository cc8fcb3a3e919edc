"""Logging for the worker: one line per record, text or JSON, with job context.

Job processes do not write to stdout themselves: the SDK forwards their records to the
main process over a socket (``LogQueueHandler``), where the handler installed here formats
them. So one handler on the main process's root logger covers every process, and the room,
job and trace fields a job process adds to its records arrive with them.

The SDK's CLI installs a root handler of its own when it starts the worker; left alone,
every record would be printed twice. :func:`setup_logging` takes that step over (see
:func:`_take_over_sdk_logging`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from livekit.agents.log import TRACE_LEVEL

from telemetry.seams.otel_sdk import EXPORT_LOGGER

__all__ = ["CONTEXT_FIELDS", "JsonFormatter", "TextFormatter", "setup_logging"]

TEXT_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"

CONTEXT_FIELDS = ("room", "job_id", "trace_id", "span_id")
"""Record attributes added inside a job, printed first after the message."""

# loggers whose chatter is transport detail, not worker behaviour
_QUIET_LOGGERS = ("httpx", "httpcore", "websockets.client", "aiohttp.access", "urllib3")
# OTLP exporters log every failed attempt; the project's exporter wrapper reports failures
# at a bounded rate instead (telemetry.exporters)
_OTLP_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    EXPORT_LOGGER,
)
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


class _ProjectHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second setup replaces it."""


def _escape(text: str) -> str:
    # a newline or an escape sequence in a participant's name must not start a fake record.
    # Newlines, tabs and escapes are not printable: the common line takes one C-level check
    if text.isprintable():
        return text
    text = text.translate(_ESCAPES)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }


class _RoomNameFilter(logging.Filter):
    """With personal data disallowed, names each record's room by its sid, never its name.

    The SDK puts the room's name on records as ``room``: on its own lines about a job, and
    on every line a job process forwards, overwriting the sid the job set; the Rust SDK also
    quotes the name in messages (``room "name"``). Both are replaced by the record's
    ``room_id``; only the quoted form in a message, so a short name cannot mangle the text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = getattr(record, "room", None)
        sid = getattr(record, "room_id", None)
        if not isinstance(name, str) or not name or name == sid:
            return True
        replacement = sid if isinstance(sid, str) and sid else "<room>"
        record.room = replacement
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format call; the handler reports it
            return True
        quoted = f'"{name}"'
        if quoted in message:
            record.msg, record.args = message.replace(quoted, f'"{replacement}"'), None
        return True


class _PiiFieldFilter(logging.Filter):
    """With personal data disallowed, drops the fields whose key has a ``pii`` segment.

    The SDK logs transcripts and replies as such fields (``lk.pii.text``,
    ``lk.pii.user_transcript``, …), the same convention its span filter uses.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for key in [k for k in record.__dict__ if "pii" in k.split(".")]:
            del record.__dict__[key]
        return True


class TextFormatter(logging.Formatter):
    """``time | LEVEL | logger | message | key=value …`` on exactly one line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = _escape(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        fields = _extra_fields(record)
        ordered = [k for k in CONTEXT_FIELDS if k in fields] + sorted(
            k for k in fields if k not in CONTEXT_FIELDS
        )
        if ordered:
            line += " | " + " ".join(f"{k}={_escape(str(fields[k]))}" for k in ordered)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += " | " + _escape(record.exc_text)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; control characters are escaped by the encoder."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        # ASCII output: a lone surrogate from a broken client string cannot break the line
        return json.dumps(entry, default=str, ensure_ascii=True)


def setup_logging(
    level: str, fmt: str, *, stream: TextIO | None = None, allow_pii: bool = True
) -> logging.Handler:
    """Install the project's single root handler; calling it again replaces it.

    Args:
        level: a level name (``TRACE``, ``DEBUG``, ``INFO``, ``WARN``/``WARNING``, …).
        fmt: ``"text"`` or ``"json"``.
        stream: where lines go, stdout by default.
        allow_pii: False names rooms by sid in every line (``ALLOW_PII``).

    Returns:
        The installed handler.
    """
    numeric = TRACE_LEVEL if level.upper() == "TRACE" else logging.getLevelName(level.upper())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _ProjectHandler) or _is_sdk_stdout_handler(existing):
            root.removeHandler(existing)

    handler = _ProjectHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if not allow_pii:
        handler.addFilter(_RoomNameFilter())
        handler.addFilter(_PiiFieldFilter())
    root.addHandler(handler)
    root.setLevel(numeric)

    # the SDK sets `livekit` to WARN by default; this worker wants its level followed
    for name in ("livekit", "livekit.agents", "livekit.plugins"):
        logging.getLogger(name).setLevel(numeric)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    for name in _OTLP_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # library warnings (warnings.warn) become records too, one line each
    logging.captureWarnings(True)
    _take_over_sdk_logging(fmt, allow_pii)
    return handler


def _is_sdk_stdout_handler(handler: logging.Handler) -> bool:
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (
        sys.stdout,
        sys.stderr,
    )


def _take_over_sdk_logging(fmt: str, allow_pii: bool) -> None:
    """Make the SDK CLI's logging setup install this module's handler instead of its own.

    The SDK's CLI calls its own logging setup when it starts the worker, after the project
    has configured logging, adding a second stdout handler; the seam routes that call here
    (``telemetry.seams.lk_agents``). The level the CLI passes (``--log-level``, default the
    server's ``log_level``) is kept.
    """
    from telemetry.seams.lk_agents import replace_cli_logging_setup

    def _setup_from_sdk(
        log_level: str, devmode: bool, console: bool, compact: bool = False
    ) -> None:
        setup_logging(log_level, fmt, allow_pii=allow_pii)

    replace_cli_logging_setup(_setup_from_sdk)
