"""WAV files in and out (PCM16 mono), with a clear error for anything else."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .pcm import Pcm


def read_wav(path: str | Path) -> tuple[Pcm, int]:
    """Return (samples, sample_rate). Stereo is mixed down; only 16-bit PCM is accepted."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ConfigError(
                    f"{path}: {8 * w.getsampwidth()}-bit audio; expected 16-bit PCM "
                    "(convert with: sox in.wav -b 16 out.wav)"
                )
            channels, rate = w.getnchannels(), w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"{path}: not a readable WAV file ({exc})") from None
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data, rate


def write_wav(path: str | Path, pcm: Pcm, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.astype("<i2").tobytes())
