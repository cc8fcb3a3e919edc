"""The py-spy profile reader: roles, exclusive package shares, inclusive project functions."""

from __future__ import annotations

import pytest

from bench.stacks import OTHER, parse_raw

_SITE = "/srv/app/.venv/lib/python3.11/site-packages"
_MAIN = (
    'process 10:"python -m worker dev";<module> (/srv/app/worker/__main__.py:5);'
    f"run (/srv/app/worker/main.py:140);run_app ({_SITE}/livekit/agents/cli/cli.py:480)"
)
_JOB = (
    f'process 10:"python -m worker dev";process 11:"forkserver";process 12:"job";'
    f"main (/usr/lib/python3.11/multiprocessing/forkserver.py:200);"
    f"_run_job ({_SITE}/livekit/agents/ipc/job_proc_lazy_main.py:300)"
)
_RAW = [
    # main process: the SDK's load loop counting child processes through psutil
    f"{_MAIN};_load_task ({_SITE}/livekit/agents/worker.py:815);"
    f"_update_child_proc_count ({_SITE}/livekit/agents/telemetry/metrics.py:43);"
    f"children ({_SITE}/psutil/__init__.py:900) 3\n",
    # main process: the project's formatter, called by the SDK's logging
    f"{_MAIN};emit (/usr/lib/python3.11/logging/__init__.py:1100);"
    f"format (/srv/app/worker/logging.py:80) 1\n",
    # job process: a project handler making a span
    f"{_JOB};on_participant_connected (/srv/app/worker/handlers.py:40);"
    f"participant_joined (/srv/app/telemetry/room.py:70);"
    f"start_span ({_SITE}/opentelemetry/sdk/trace/__init__.py:1100) 2\n",
    # job process: the event loop waiting on sockets
    f"{_JOB};select (/usr/lib/python3.11/selectors.py:468) 1\n",
    f"{_JOB};entrypoint (/srv/app/worker/main.py:90);"
    f"sleep (/usr/lib/python3.11/asyncio/tasks.py:1) 1\n",
    "garbage without a count\n",
]


def test_samples_are_split_by_process_role() -> None:
    profile = parse_raw(_RAW)

    assert dict(profile.samples) == {"main": 4, "job": 4}


def test_a_sample_goes_to_the_innermost_known_package() -> None:
    profile = parse_raw(_RAW)

    assert profile.share("main", "psutil") == pytest.approx(3 / 4)
    assert profile.share("main", "project worker") == pytest.approx(1 / 4)
    assert profile.share("main", "livekit-agents") == 0.0
    assert profile.share("job", "opentelemetry") == pytest.approx(2 / 4)
    assert profile.share("job", "livekit-agents") == pytest.approx(1 / 4)
    assert profile.share("job", "project worker") == pytest.approx(1 / 4)
    assert profile.share("job", OTHER) == 0.0


def test_the_project_frames_that_start_the_sdk_are_not_the_projects_cost() -> None:
    profile = parse_raw(_RAW)

    assert profile.top_functions("main", "project worker", 5) == [
        ("format (worker/logging.py)", 0.25)
    ]


def test_project_functions_are_inclusive_and_named_without_the_machine_path() -> None:
    profile = parse_raw(_RAW)

    assert profile.top_functions("job", "project worker", 2) == [
        ("on_participant_connected (worker/handlers.py)", 0.5),
        ("entrypoint (worker/main.py)", 0.25),
    ]
    assert profile.top_functions("job", "project telemetry", 5) == [
        ("participant_joined (telemetry/room.py)", 0.5)
    ]


def test_an_empty_profile_has_no_shares() -> None:
    profile = parse_raw([])

    assert profile.share("main", "livekit-agents") == 0.0
    assert profile.top_functions("job", "project worker", 3) == []
