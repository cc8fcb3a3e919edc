"""Real speech for tests and demos: phrases spoken by ``espeak-ng``, cached as 48 kHz WAV.

``espeak-ng`` (Debian package ``espeak-ng``) writes 22.05 kHz mono; the clip is resampled once
with the RTC SDK's resampler to the 48 kHz, 16-bit mono that LiveKit rooms carry, and cached
under the project's ``.cache/speech/``, keyed by phrase, voice, rate and the espeak version, so
a new espeak release or a changed phrase makes a new file and nothing stale is replayed.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit import rtc

from devtools.energy import VoicedSpan, voiced_span

__all__ = [
    "DEFAULT_CACHE_DIR",
    "SAMPLE_RATE",
    "SpeechClip",
    "SpeechUnavailableError",
    "espeak_version",
    "pcm_frames",
    "silence",
    "speak",
]

SAMPLE_RATE = 48000
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "speech"
_ESPEAK = "espeak-ng"
_TIMEOUT_S = 60.0


class SpeechUnavailableError(RuntimeError):
    """``espeak-ng`` is missing or failed; the message says how to install it."""


@dataclass(frozen=True)
class SpeechClip:
    """A spoken phrase as mono int16 PCM at :data:`SAMPLE_RATE`."""

    phrase: str
    path: Path
    pcm: np.ndarray

    @property
    def duration(self) -> float:
        """Length of the clip in seconds, leading and trailing silence included."""
        return self.pcm.size / SAMPLE_RATE

    @property
    def voiced(self) -> VoicedSpan:
        """Where the speech is in the clip (by energy), in seconds from its start."""
        span = voiced_span(self.pcm, SAMPLE_RATE)
        if span is None:
            raise SpeechUnavailableError(f"espeak-ng produced silence for {self.phrase!r}")
        return span

    def frames(
        self, *, frame_ms: int = 20, lead_s: float = 0.0, trail_s: float = 0.0
    ) -> Iterator[rtc.AudioFrame]:
        """The clip as audio frames, optionally with silence before and after it."""
        pcm = np.concatenate([silence(lead_s), self.pcm, silence(trail_s)])
        return pcm_frames(pcm, frame_ms=frame_ms)


def silence(seconds: float) -> np.ndarray:
    """``seconds`` of int16 silence at :data:`SAMPLE_RATE`."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def pcm_frames(
    pcm: np.ndarray, *, frame_ms: int = 20, sample_rate: int = SAMPLE_RATE
) -> Iterator[rtc.AudioFrame]:
    """Mono int16 samples cut into ``frame_ms`` frames; the last one is padded with silence.

    Args:
        pcm: Mono int16 samples.
        frame_ms: Frame length, 10 or 20 ms as WebRTC sends them.
        sample_rate: Sample rate of ``pcm``.
    """
    if frame_ms not in (10, 20):
        raise ValueError(f"frame_ms must be 10 or 20, not {frame_ms}")
    per_frame = sample_rate * frame_ms // 1000
    padded = np.concatenate([pcm, np.zeros((-pcm.size) % per_frame, dtype=np.int16)])
    for i in range(0, padded.size, per_frame):
        yield rtc.AudioFrame(padded[i : i + per_frame].tobytes(), sample_rate, 1, per_frame)


@functools.cache
def espeak_version(binary: str = _ESPEAK) -> str:
    """The installed espeak-ng's version string (e.g. ``1.51``)."""
    path = shutil.which(binary)
    if path is None:
        raise SpeechUnavailableError(
            f"{binary} not found: install it (Debian: apt-get install -y espeak-ng)"
        )
    out = _run([path, "--version"]).decode(errors="replace")
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    after = out.split(":", 1)[-1].split()
    return after[0] if after else out.strip()


def speak(
    phrase: str,
    *,
    voice: str = "en-us",
    words_per_minute: int = 160,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    binary: str = _ESPEAK,
) -> SpeechClip:
    """``phrase`` spoken by espeak-ng at 48 kHz, from the cache or generated once.

    Args:
        phrase: The text to speak.
        voice: An espeak-ng voice name.
        words_per_minute: Speaking rate.
        cache_dir: Where the WAV files are kept.
        binary: The espeak-ng executable.

    Raises:
        SpeechUnavailableError: espeak-ng is missing or failed.
    """
    key = "\0".join([phrase, voice, str(words_per_minute), espeak_version(binary)])
    path = cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.wav"
    if not path.exists():
        raw, rate = _synthesize(binary, phrase, voice, words_per_minute)
        _write_wav_atomically(path, _resample(raw, rate))
    return SpeechClip(phrase=phrase, path=path, pcm=_read_wav(path))


def _run(args: list[str]) -> bytes:
    try:
        proc = subprocess.run(args, capture_output=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechUnavailableError(f"{args[0]} failed: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise SpeechUnavailableError(f"{args[0]} exited {proc.returncode}: {err}")
    return proc.stdout


def _synthesize(binary: str, phrase: str, voice: str, wpm: int) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        # "--" keeps a phrase that starts with "-" from being read as an option
        _run([binary, "-v", voice, "-s", str(wpm), "-w", str(out), "--", phrase])
        with wave.open(str(out), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise SpeechUnavailableError("espeak-ng wrote audio that is not mono 16-bit")
            return np.frombuffer(wav.readframes(wav.getnframes()), np.int16), wav.getframerate()


def _resample(pcm: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return pcm
    resampler = rtc.AudioResampler(rate, SAMPLE_RATE, quality=rtc.AudioResamplerQuality.HIGH)
    frames = resampler.push(rtc.AudioFrame(pcm.tobytes(), rate, 1, pcm.size))
    frames += resampler.flush()
    return np.concatenate([np.frombuffer(f.data, np.int16) for f in frames])


def _write_wav_atomically(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a concurrent test may write the same phrase: each writes its own file, the rename wins
    with (
        tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp,
        wave.open(tmp, "wb") as wav,
    ):
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    Path(tmp.name).replace(path)


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1:
            raise SpeechUnavailableError(f"{path} is not 48 kHz mono; delete it to regenerate")
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).copy()
