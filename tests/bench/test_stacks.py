"""The py-spy profile reader: roles, inclusive package shares, display names."""

from __future__ import annotations

import pytest

from bench.stacks import parse_raw

_MAIN = 'process 10:"python -m worker dev"'
_JOB = f'{_MAIN};process 11:"forkserver";process 12:"job"'
_SITE = "/srv/app/.venv/lib/python3.11/site-packages"
_RAW = [
    # main process: the SDK's load loop counting child processes through psutil
    f"{_MAIN};_load_task ({_SITE}/livekit/agents/worker.py:815);"
    f"_update_child_proc_count ({_SITE}/livekit/agents/telemetry/metrics.py:43);"
    f"children ({_SITE}/psutil/__init__.py:900) 3\n",
    # main process: a log record formatted by the project
    f"{_MAIN};emit (/usr/lib/python3.11/logging/__init__.py:1100);"
    f"format (/srv/app/worker/logging.py:80) 1\n",
    # job process: a project handler making a span
    f"{_JOB};on_participant_connected (/srv/app/worker/handlers.py:40);"
    f"participant_joined (/srv/app/telemetry/room.py:70);"
    f"start_span ({_SITE}/opentelemetry/sdk/trace/__init__.py:1100) 2\n",
    f"{_JOB};<module> (/srv/app/worker/main.py:1) 2\n",
    "garbage without a count\n",
]


def test_samples_are_split_by_process_role() -> None:
    profile = parse_raw(_RAW)

    assert dict(profile.samples) == {"main": 4, "job": 4}


def test_package_shares_are_inclusive_and_the_sdk_telemetry_is_the_sdk() -> None:
    profile = parse_raw(_RAW)

    assert profile.share("main", "livekit-agents") == pytest.approx(3 / 4)
    assert profile.share("main", "psutil") == pytest.approx(3 / 4)
    assert profile.share("main", "project telemetry") == 0.0
    assert profile.share("main", "logging") == pytest.approx(1 / 4)
    assert profile.share("main", "project worker") == pytest.approx(1 / 4)
    assert profile.share("job", "project worker") == 1.0
    assert profile.share("job", "project telemetry") == pytest.approx(2 / 4)
    assert profile.share("job", "opentelemetry") == pytest.approx(2 / 4)


def test_top_functions_name_the_file_without_the_machine_path() -> None:
    profile = parse_raw(_RAW)

    assert profile.top_functions("job", "project worker", 2) == [
        ("<module> (worker/main.py)", 0.5),
        ("on_participant_connected (worker/handlers.py)", 0.5),
    ]
    assert profile.top_functions("job", "project telemetry", 5) == [
        ("participant_joined (telemetry/room.py)", 0.5)
    ]


def test_an_empty_profile_has_no_shares() -> None:
    profile = parse_raw([])

    assert profile.share("main", "livekit-agents") == 0.0
    assert profile.top_functions("job", "project worker", 3) == []
