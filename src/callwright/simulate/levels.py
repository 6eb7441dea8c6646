"""Active speech level and the speech-to-noise ratio, as the simulator defines and measures them.

In the spirit of ITU-T P.56, kept simple: the signal is cut into 20 ms frames, and the **active
level** is the mean power of the frames whose power is no more than 15.9 dB below that same mean
(found by iterating from the mean of all frames to the fixed point). Pauses between words fall below
the threshold and do not dilute the level. Unlike P.56 there is no envelope smoothing and no 200 ms
hangover, so on ordinary speech this level reads a little higher than a P.56 meter would.

The **SNR** of a mix is ``10 log10(P_speech / P_noise)``, both powers averaged over the same samples:
the active frames of the speech. Noise in the pauses therefore does not count, and a noise that
happens to be quiet while the caller talks gives a lower SNR than its average level would suggest.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..audio.pcm import frame_samples

Audio = npt.NDArray[np.float64]

MARGIN_DB = 15.9  # P.56's margin between the active level and the threshold of an active frame
_ITERATIONS = 50


def active_mask(audio: Audio, sample_rate: int) -> npt.NDArray[np.bool_]:
    """One flag per sample: whether it lies in an active 20 ms frame (all False for silence)."""
    hop = frame_samples(sample_rate)
    frames = -(-audio.size // hop)
    padded = np.zeros(frames * hop)
    padded[: audio.size] = audio
    lengths = np.full(frames, hop)
    if frames:
        lengths[-1] = audio.size - (frames - 1) * hop
    power = (padded.reshape(frames, hop) ** 2).sum(axis=1) / lengths
    active = power > 0.0
    if not active.any():
        return np.zeros(audio.size, dtype=np.bool_)
    threshold = 10.0 ** (-MARGIN_DB / 10.0)
    for _ in range(_ITERATIONS):
        level = float(np.average(power[active], weights=lengths[active]))
        again = power >= level * threshold
        if np.array_equal(again, active):
            break
        active = again
    return np.repeat(active, hop)[: audio.size]


def active_power(audio: Audio, sample_rate: int) -> float:
    """Mean power (full scale = 1.0) of the active frames; 0.0 for silence."""
    mask = active_mask(audio, sample_rate)
    return float(np.mean(audio[mask] ** 2)) if mask.any() else 0.0


def to_db(power: float) -> float:
    """Power ratio in decibels, floored at -200 dB for silence."""
    return float(10.0 * np.log10(max(power, 1e-20)))


def snr_db(speech: Audio, noise: Audio, sample_rate: int) -> float:
    """Speech-to-noise ratio over the speech's active frames (``speech`` and ``noise`` are the two parts
    of a mix, of equal length)."""
    mask = active_mask(speech, sample_rate)
    if not mask.any():
        return float("-inf")
    return to_db(float(np.mean(speech[mask] ** 2))) - to_db(float(np.mean(noise[mask] ** 2)))
