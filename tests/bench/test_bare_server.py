"""The bare workers' VAD-matched prewarm makes the worker's VAD, from the SDK alone."""

from __future__ import annotations

from livekit.agents import inference

from bench.bare_server import NATIVE_VAD_MIN_SILENCE, native_prewarm
from worker.voice import load_vad


class _Proc:
    def __init__(self) -> None:
        self.userdata: dict[str, object] = {}


def test_the_native_prewarm_makes_the_workers_vad() -> None:
    proc = _Proc()

    native_prewarm(proc)  # type: ignore[arg-type]

    made, workers = proc.userdata["vad"], load_vad()
    assert isinstance(made, inference.VAD)
    assert type(made) is type(workers)
    assert made.min_silence_duration == workers.min_silence_duration == NATIVE_VAD_MIN_SILENCE
