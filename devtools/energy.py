"""Speech detection by signal energy on 16-bit PCM, for the speech cache and the STT fake.

Deliberately crude: a window is voiced when its RMS level is above a threshold. Synthetic
speech from ``espeak-ng`` has clean silence between phrases, so this is enough to tell the
STT fake where an utterance starts and ends, and to tell tests where the speech in a clip is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT_THRESHOLD_DBFS", "EnergyDetector", "VoicedSpan", "voiced_span", "window_dbfs"]

DEFAULT_THRESHOLD_DBFS = -40.0
_WINDOW_S = 0.01
_FULL_SCALE = 32768.0


def window_dbfs(pcm: np.ndarray) -> float:
    """The RMS level of int16 samples in dB relative to full scale (``-inf`` for silence)."""
    if pcm.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64)))))
    return 20.0 * float(np.log10(rms / _FULL_SCALE)) if rms > 0 else float("-inf")


@dataclass(frozen=True)
class VoicedSpan:
    """Where speech is in a clip, in seconds from its first sample."""

    start: float
    end: float


def voiced_span(
    pcm: np.ndarray, sample_rate: int, *, threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS
) -> VoicedSpan | None:
    """The first to the last voiced 10 ms window of a mono int16 clip, or None if silent."""
    window = max(1, int(sample_rate * _WINDOW_S))
    voiced = [
        i for i in range(0, pcm.size, window) if window_dbfs(pcm[i : i + window]) >= threshold_dbfs
    ]
    if not voiced:
        return None
    last_end = min(pcm.size, voiced[-1] + window)
    return VoicedSpan(start=voiced[0] / sample_rate, end=last_end / sample_rate)


@dataclass
class EnergyDetector:
    """Streaming utterance detector: voiced after ``onset_s`` of speech, ended after ``hangover_s``.

    Feed it audio with :meth:`push`; it answers with the transitions it saw, each stamped with
    the audio time (seconds of audio since the first sample pushed).
    """

    sample_rate: int
    threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS
    onset_s: float = 0.03
    hangover_s: float = 0.1
    speaking: bool = False
    last_voiced_end: float = 0.0
    utterance_start: float = 0.0
    _samples: int = 0
    _voiced_run: float = 0.0
    _silence_run: float = 0.0
    _pending: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    @property
    def audio_time(self) -> float:
        """Seconds of audio consumed so far."""
        return self._samples / self.sample_rate

    def push(self, pcm: np.ndarray) -> list[tuple[str, float]]:
        """Consume int16 samples; returns ``("start", t)`` / ``("end", t)`` transitions."""
        window = max(1, int(self.sample_rate * _WINDOW_S))
        buffered = np.concatenate([self._pending, pcm])
        whole = buffered.size - buffered.size % window
        self._pending = buffered[whole:]
        events: list[tuple[str, float]] = []
        for i in range(0, whole, window):
            event = self._window(buffered[i : i + window], window / self.sample_rate)
            if event is not None:
                events.append(event)
        return events

    def _window(self, pcm: np.ndarray, duration: float) -> tuple[str, float] | None:
        start = self.audio_time
        self._samples += pcm.size
        if window_dbfs(pcm) >= self.threshold_dbfs:
            self._silence_run = 0.0
            self._voiced_run += duration
            self.last_voiced_end = self.audio_time
            if not self.speaking and self._voiced_run >= self.onset_s:
                self.speaking = True
                self.utterance_start = start + duration - self._voiced_run
                return ("start", self.utterance_start)
            return None
        self._voiced_run = 0.0
        self._silence_run += duration
        if self.speaking and self._silence_run >= self.hangover_s:
            self.speaking = False
            return ("end", self.last_voiced_end)
        return None
