"""Speech detection by energy: levels, the voiced span of a clip, the streaming detector."""

from __future__ import annotations

import math

import numpy as np

from devtools.energy import EnergyDetector, voiced_span, window_dbfs

RATE = 16000


def _tone(seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * 32767 * np.sin(2 * math.pi * 300 * t)).astype(np.int16)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def test_level_of_a_full_scale_square_is_zero_dbfs_and_of_silence_minus_infinity() -> None:
    assert window_dbfs(np.full(160, -32768, dtype=np.int16)) == 0.0
    assert window_dbfs(_silence(0.01)) == float("-inf")
    assert window_dbfs(np.zeros(0, dtype=np.int16)) == float("-inf")
    # a sine's RMS is its peak over sqrt(2): 0.2 full scale is about -17 dBFS
    assert abs(window_dbfs(_tone(0.1)) - 20 * math.log10(0.2 / math.sqrt(2))) < 0.1


def test_voiced_span_finds_the_tone_between_silences() -> None:
    pcm = np.concatenate([_silence(0.25), _tone(0.5), _silence(0.3)])
    span = voiced_span(pcm, RATE)
    assert span is not None
    assert (span.start, span.end) == (0.25, 0.75)
    assert voiced_span(_silence(1.0), RATE) is None
    assert voiced_span(np.concatenate([_silence(0.2), _tone(0.2, level=0.001)]), RATE) is None


def test_the_detector_reports_start_and_end_in_audio_time_whatever_the_chunking() -> None:
    pcm = np.concatenate([_silence(0.2), _tone(0.6), _silence(0.2), _tone(0.3), _silence(0.5)])
    for chunk in (160, 800, 1234):
        detector = EnergyDetector(sample_rate=RATE, hangover_s=0.1)
        events = []
        for i in range(0, pcm.size, chunk):
            events += detector.push(pcm[i : i + chunk])
        assert [(kind, round(at, 3)) for kind, at in events] == [
            ("start", 0.2),
            ("end", 0.8),
            ("start", 1.0),
            ("end", 1.3),
        ]
        assert detector.audio_time == 1.8
        assert not detector.speaking


def test_a_gap_shorter_than_the_hangover_does_not_end_the_utterance() -> None:
    pcm = np.concatenate([_tone(0.3), _silence(0.05), _tone(0.3), _silence(0.2)])
    detector = EnergyDetector(sample_rate=RATE, hangover_s=0.08)
    events = detector.push(pcm)
    assert [(kind, round(at, 3)) for kind, at in events] == [("start", 0.0), ("end", 0.65)]


def test_a_click_shorter_than_the_onset_is_not_speech() -> None:
    pcm = np.concatenate([_silence(0.1), _tone(0.02), _silence(0.3)])
    assert EnergyDetector(sample_rate=RATE, onset_s=0.03).push(pcm) == []
