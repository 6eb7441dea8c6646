"""PCM16 mono helpers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LISTEN_RATE = 16000
FRAME_MS = 20

Pcm = npt.NDArray[np.int16]


def frame_samples(sample_rate: int, ms: int = FRAME_MS) -> int:
    return sample_rate * ms // 1000


def from_bytes(data: bytes) -> Pcm:
    """Little-endian PCM16 bytes -> int16 array (a copy, so the caller may reuse its buffer)."""
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def to_bytes(pcm: Pcm) -> bytes:
    return pcm.astype("<i2", copy=False).tobytes()


def to_float(pcm: Pcm) -> npt.NDArray[np.float32]:
    return pcm.astype(np.float32) / 32768.0


def from_float(audio: npt.NDArray[np.float32]) -> Pcm:
    return np.asarray(np.clip(audio, -1.0, 1.0) * np.float32(32767.0), dtype=np.int16)


def rms_dbfs(pcm: Pcm) -> float:
    if pcm.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) / 32768.0
    return float(20.0 * np.log10(max(rms, 1e-6)))


def speech_end(pcm: Pcm, sample_rate: int, threshold_dbfs: float = -40.0) -> float:
    """Seconds from the start to the end of the last 20 ms window louder than ``threshold_dbfs``."""
    hop = frame_samples(sample_rate)
    last = 0
    for i in range(0, pcm.size, hop):
        if rms_dbfs(pcm[i : i + hop]) > threshold_dbfs:
            last = min(pcm.size, i + hop)
    return last / sample_rate
