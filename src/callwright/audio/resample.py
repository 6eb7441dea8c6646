"""Sample-rate conversion with libsoxr (``soxr``), streaming so chunk edges leave no clicks."""

from __future__ import annotations

import numpy as np
import soxr

from .pcm import Pcm


class Resampler:
    """One direction of one stream. Identity when the rates match."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")
        )

    def __call__(self, pcm: Pcm, last: bool = False) -> Pcm:
        if self._stream is None:
            return pcm
        return np.asarray(self._stream.resample_chunk(pcm, last=last), dtype=np.int16)


def resample(pcm: Pcm, in_rate: int, out_rate: int) -> Pcm:
    if in_rate == out_rate:
        return pcm
    return np.asarray(soxr.resample(pcm, in_rate, out_rate, quality="HQ"), dtype=np.int16)
