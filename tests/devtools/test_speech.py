"""Real speech from espeak-ng: the cache, the frames, and Silero VAD hearing it where it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from livekit.agents import vad
from livekit.plugins import silero

from devtools.speech import SAMPLE_RATE, SpeechUnavailableError, espeak_version, pcm_frames, speak
from worker.voice import load_vad

PHRASE = "What is the weather like in Paris today"


def test_speech_is_cached_by_phrase_and_espeak_version(tmp_path: Path) -> None:
    clip = speak(PHRASE, cache_dir=tmp_path)
    assert clip.path.parent == tmp_path
    assert clip.path.suffix == ".wav"
    written = clip.path.stat().st_mtime_ns
    again = speak(PHRASE, cache_dir=tmp_path)
    assert again.path == clip.path
    assert again.path.stat().st_mtime_ns == written  # read back, not spoken again
    assert np.array_equal(again.pcm, clip.pcm)
    other = speak("Thank you, goodbye", cache_dir=tmp_path)
    assert other.path != clip.path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([clip.path.name, other.path.name])
    assert espeak_version()[0].isdigit()


def test_a_clip_is_speech_at_48_khz() -> None:
    clip = speak(PHRASE)
    assert clip.pcm.dtype == np.int16
    # espeak speaks these eight words in about two seconds at 160 words per minute
    assert 1.0 < clip.voiced.end - clip.voiced.start < 4.0
    assert clip.duration >= clip.voiced.end


@pytest.mark.parametrize("frame_ms", [10, 20])
def test_frames_are_10_or_20_ms_and_keep_every_sample(frame_ms: int) -> None:
    clip = speak(PHRASE)
    frames = list(clip.frames(frame_ms=frame_ms, lead_s=0.5, trail_s=0.25))
    per_frame = SAMPLE_RATE * frame_ms // 1000
    assert {(f.sample_rate, f.num_channels, f.samples_per_channel) for f in frames} == {
        (SAMPLE_RATE, 1, per_frame)
    }
    pcm = np.concatenate([np.frombuffer(f.data, np.int16) for f in frames])
    lead = SAMPLE_RATE // 2
    assert not pcm[:lead].any()
    assert np.array_equal(pcm[lead : lead + clip.pcm.size], clip.pcm)
    assert len(frames) == -(-(lead + clip.pcm.size + SAMPLE_RATE // 4) // per_frame)


def test_frames_of_other_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="frame_ms"):
        next(pcm_frames(np.zeros(480, np.int16), frame_ms=30))


def test_a_missing_espeak_names_the_package() -> None:
    with pytest.raises(SpeechUnavailableError, match="apt-get install -y espeak-ng"):
        speak(PHRASE, binary="espeak-ng-not-installed")


@pytest.mark.parametrize(
    "make_vad",
    [silero.VAD.load, load_vad],
    ids=["silero-plugin", "worker-native"],
)
async def test_silero_vad_hears_the_speech_where_the_clip_has_it(
    make_vad: Callable[[], vad.VAD],
) -> None:
    # the worker's native VAD is the same model as the plugin's, with its silence threshold
    clip = speak(PHRASE)
    lead = 0.5
    stream = make_vad().stream()
    for frame in clip.frames(lead_s=lead, trail_s=1.0):
        stream.push_frame(frame)
    stream.end_input()
    events = [e async for e in stream if e.type != vad.VADEventType.INFERENCE_DONE]
    await stream.aclose()

    assert [e.type for e in events] == [
        vad.VADEventType.START_OF_SPEECH,
        vad.VADEventType.END_OF_SPEECH,
    ]
    start, end = events
    # Silero's 32 ms windows and its thresholds against our 10 ms energy windows
    assert abs(start.timestamp - start.speech_duration - (lead + clip.voiced.start)) <= 0.1
    assert abs(end.timestamp - end.silence_duration - (lead + clip.voiced.end)) <= 0.15
