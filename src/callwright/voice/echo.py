"""Telling the agent's own voice, leaking back into the caller's microphone, from the caller.

Browsers cancel echo themselves (the page asks for it), but speakerphones and some phones do not.
The :class:`EchoReference` keeps the last few seconds of agent audio as it was sent, laid out on
the call's clock. When the caller's side turns voiced while the agent talks, :func:`echo_ratio`
looks for the agent's audio inside the caller's (any delay up to ``max_lag_ms``), removes the best
scaled copy, and reports how much energy is left. Echo leaves little (< ~0.3); a caller talking
over the agent leaves most of it. This is a detector, not a canceller: it only decides whether to
yield. (Written here because no maintained Python AEC binding installs from wheels; the method is
a least-squares fit at the cross-correlation peak.)
"""

from __future__ import annotations

import numpy as np

from ..audio.pcm import Pcm
from ..audio.resample import resample

MAX_JITTER_S = 0.05


class EchoReference:
    """The last few seconds of sent agent audio, in a circular buffer (O(frame) per add)."""

    def __init__(self, sample_rate: int, seconds: float = 4.0) -> None:
        self.sample_rate = sample_rate
        self._ring = np.zeros(int(sample_rate * seconds), dtype=np.int16)
        self._head = 0  # next write position
        self._end_time: float | None = None  # clock time at which the last written sample was sent

    def add(self, pcm: Pcm, sent_at: float) -> None:
        """Record ``pcm`` as sent at clock time ``sent_at`` (silence fills any gap since the last add)."""
        if self._end_time is not None and sent_at - self._end_time > MAX_JITTER_S:
            self._write_zeros(round((sent_at - self._end_time) * self.sample_rate))
        elif self._end_time is not None:
            sent_at = self._end_time  # paced frames are contiguous: scheduling jitter is not silence
        self._write(pcm[-self._ring.size :])
        self._end_time = sent_at + pcm.size / self.sample_rate

    def _write(self, block: Pcm) -> None:
        size = self._ring.size
        first = min(block.size, size - self._head)
        self._ring[self._head : self._head + first] = block[:first]
        self._ring[: block.size - first] = block[first:]
        self._head = (self._head + block.size) % size

    def _write_zeros(self, n: int) -> None:
        self._write(np.zeros(min(n, self._ring.size), dtype=np.int16))

    def _latest(self, n: int) -> Pcm:
        n = min(n, self._ring.size)
        start = (self._head - n) % self._ring.size
        if start + n <= self._ring.size:
            return self._ring[start : start + n].copy()
        return np.concatenate((self._ring[start:], self._ring[: self._head]))

    @property
    def last_sent_at(self) -> float | None:
        """Clock time the last recorded agent sample finished playing out (by the send schedule)."""
        return self._end_time

    def active_within(self, now: float, seconds: float) -> bool:
        """Whether agent audio was sent in the last ``seconds``."""
        return self._end_time is not None and now - self._end_time < seconds

    def window(self, now: float, seconds: float, rate: int) -> Pcm:
        """The reference for the ``seconds`` before ``now``, resampled to ``rate``."""
        if self._end_time is None:
            return np.zeros(0, dtype=np.int16)
        behind = round((now - self._end_time) * self.sample_rate)  # silence after the last sample
        n = int(seconds * self.sample_rate)
        if behind >= n:
            return np.zeros(int(seconds * rate), dtype=np.int16)
        if behind <= 0:
            ref = self._latest(n)
        else:
            ref = np.concatenate((self._latest(n - behind), np.zeros(behind, dtype=np.int16)))
        return resample(ref, self.sample_rate, rate)


DECIMATE = 4  # the delay is searched at a quarter of the rate, then refined at full rate


def echo_ratio(mic: Pcm, reference: Pcm, block: int = 3200) -> float:
    """Share of ``mic`` energy left after removing the agent's audio found in it.

    ``mic`` is cut into blocks (200 ms at 16 kHz); for each, the best-matching delayed, scaled
    stretch of ``reference`` is removed. Blocks have their own delay, because a playback path
    that stalls for a moment (a jitter buffer running dry) shifts the echo as it goes.
    ``reference`` must end no earlier than ``mic`` and reach back by the longest echo delay.
    Returns 1.0 when nothing of the reference is in the mic signal.
    """
    x = mic.astype(np.float64)
    r = reference.astype(np.float64)
    ex = float(np.dot(x, x))
    if x.size == 0 or r.size < x.size or ex <= 0 or not np.any(r):
        return 1.0
    coarse = _Coarse(r)
    left = 0.0
    for start in range(0, x.size, block):
        part = x[start : start + block]
        ep = float(np.dot(part, part))
        if part.size < block // 4 or ep <= 0:
            left += ep
            continue
        left += ep * _block_residual(part, r, coarse)
    return left / ex


class _Coarse:
    """The reference at a quarter rate, its spectrum and running energy, shared by all blocks."""

    def __init__(self, r: np.ndarray) -> None:
        n = r.size // DECIMATE * DECIMATE
        self.r = r[:n].reshape(-1, DECIMATE).mean(axis=1)
        self.energy = np.concatenate(([0.0], np.cumsum(self.r * self.r)))
        self.spectra: dict[int, np.ndarray] = {}

    def spectrum(self, n: int) -> np.ndarray:
        if n not in self.spectra:
            self.spectra[n] = np.fft.rfft(self.r, n)
        return self.spectra[n]


def _block_residual(part: np.ndarray, r: np.ndarray, coarse: _Coarse) -> float:
    m = part.size // DECIMATE
    small = part[: m * DECIMATE].reshape(-1, DECIMATE).mean(axis=1)
    cr = coarse.r
    if cr.size < m or m == 0:
        return 1.0
    n = 1 << int(np.ceil(np.log2(cr.size + m)))
    corr = np.fft.irfft(coarse.spectrum(n) * np.conj(np.fft.rfft(small, n)), n)[: cr.size - m + 1]
    win = coarse.energy[m:] - coarse.energy[:-m]  # energy of each reference window of length m
    # Normalised correlation (corr^2 / window energy; the block's own energy is constant). Windows
    # with under 1 % of the block's energy are skipped: echo would need a gain above 10 to come from
    # them, and near-silent windows only add numerical noise.
    floor = max(1e-9, 0.01 * float(np.dot(small, small)))
    score = np.where(win > floor, corr * corr / np.maximum(win, floor), 0.0)
    guess = int(np.argmax(score)) * DECIMATE
    best = 1.0
    for k in range(max(0, guess - DECIMATE), min(r.size - part.size, guess + DECIMATE) + 1):
        seg = r[k : k + part.size]
        es = float(np.dot(seg, seg))
        if es <= 0:
            continue
        residual = part - (float(np.dot(part, seg)) / es) * seg
        best = min(best, float(np.dot(residual, residual)) / float(np.dot(part, part)))
    return best
