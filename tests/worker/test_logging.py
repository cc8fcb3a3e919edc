"""Logging: one line per record, text or JSON, with context, and the SDK's handler replaced."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from worker.logging import JsonFormatter, TextFormatter, setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("worker.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_text_format_and_context_fields() -> None:
    line = TextFormatter().format(
        _record("Job received for room: %s", "demo", room="demo", job_id="AJ_1", trace_id="ab")
    )
    parts = line.split(" | ")
    assert parts[1:4] == ["INFO", "worker.test", "Job received for room: demo"]
    assert parts[4] == "room=demo job_id=AJ_1 trace_id=ab"


def test_text_lines_cannot_be_forged() -> None:
    hostile = "bob\n2026-01-01 00:00:00,000 | INFO | worker | forged\x1b[31m"
    line = TextFormatter().format(_record("Participant connected: %s", hostile, room=hostile))
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\\n2026-01-01" in line
    assert "\\x1b[31m" in line


def test_json_is_one_valid_object_per_record() -> None:
    hostile = 'x"}\n{"level": "ERROR", "message": "forged"}\ud800'
    line = JsonFormatter().format(_record("Participant connected: %s", hostile, room="r"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == f"Participant connected: {hostile}"
    assert (entry["level"], entry["logger"], entry["room"]) == ("INFO", "worker.test", "r")


def test_exceptions_stay_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("w", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in text
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exc_info"]


def test_one_handler_even_after_the_sdk_sets_up_its_own() -> None:
    from livekit.agents.cli import cli as sdk_cli

    stream = io.StringIO()
    setup_logging("INFO", "text", stream=stream)
    # what the SDK's CLI does when it starts the worker; without the take-over every record
    # would be printed twice
    sdk_cli.setup_logging("INFO", devmode=True, console=False)
    logging.getLogger("worker.test").info("hello")
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_ProjectHandler"]
    plain = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert len(ours) == 1
    assert plain == []


def test_sdk_handler_would_duplicate_lines_without_the_take_over() -> None:
    # the failure the take-over prevents: the SDK's setup adds a second stdout handler
    from livekit.agents.cli import log as sdk_log

    root = logging.getLogger()
    setup_logging("INFO", "text", stream=io.StringIO())
    before = len(root.handlers)
    sdk_log.setup_logging("INFO", devmode=True, console=False)
    assert len(root.handlers) == before + 1


def test_levels_of_quiet_and_livekit_loggers() -> None:
    setup_logging("DEBUG", "json", stream=io.StringIO())
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    assert logging.getLogger("livekit").level == logging.DEBUG
    assert logging.getLogger("livekit.agents").level == logging.DEBUG
    setup_logging("ERROR", "json", stream=io.StringIO())
    assert logging.getLogger("httpx").level == logging.ERROR


def test_room_names_become_sids_without_pii() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "text", stream=stream, allow_pii=False)
    log = logging.getLogger("livekit")
    log.info('Disconnected from room "room"', extra={"room": "room", "room_id": "RM_1"})
    log.info("received job request", extra={"room": "Dr Who", "room_id": "RM_2"})
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith('Disconnected from room "RM_1" | room=RM_1 room_id=RM_1')
    assert lines[1].endswith("received job request | room=RM_2 room_id=RM_2")
    assert "Dr Who" not in stream.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_transcripts_the_sdk_logs_are_dropped_without_pii(fmt: str) -> None:
    for allow_pii in (False, True):
        stream = io.StringIO()
        setup_logging("INFO", fmt, stream=stream, allow_pii=allow_pii)
        logging.getLogger("livekit.agents").info(
            "received user transcript",
            extra={"lk.pii.user_transcript": "my card is 4242", "language": "en"},
        )
        line = stream.getvalue()
        assert "language" in line
        assert ("4242" in line) is allow_pii, line
