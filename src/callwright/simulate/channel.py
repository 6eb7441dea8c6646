"""The phone line between a simulated caller and the agent: band-pass, 8 kHz μ-law in 20 ms packets,
Gilbert-Elliott packet loss, network jitter against a fixed jitter buffer, and concealment.

In order: the 16 kHz signal goes through a 300-3400 Hz band-pass (the telephone band of ITU-T G.712;
see :func:`band_pass`), is resampled to 8 kHz and
μ-law encoded with Callwright's own codec (the one the Twilio transport uses), and cut into 20 ms
packets of 160 bytes. A packet is missing if the loss chain drops it or if it reaches the jitter
buffer too late; a missing packet is replaced by silence or by the last packet that arrived. The
result is decoded back to 8 kHz PCM16: ``mulaw_encode`` of it gives the packets' bytes again, so a
Twilio-speaking runner can send it as is.

The jitter buffer's fixed delay is not inserted into the audio (the output stays aligned with the
input); the runner accounts for latency itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..audio.codecs import mulaw_decode, mulaw_encode
from ..audio.pcm import Pcm, frame_samples, from_float
from ..audio.resample import resample
from ..errors import ConfigError
from .environment import Phone
from .levels import Audio

WIDE_RATE = 16000
PHONE_RATE = 8000
PACKET = frame_samples(PHONE_RATE)  # 160 samples, 20 ms
PASS_BAND = (300.0, 3400.0)


@dataclass(frozen=True)
class Delivery:
    """What happened to the packets of one rendering."""

    packets: int
    lost: int  # dropped by the loss chain
    late: int  # arrived after the jitter buffer's deadline (and not lost)


def band_pass(audio: Audio, sample_rate: int = WIDE_RATE) -> Audio:
    """The telephone band, 300-3400 Hz, filtered causally as a line would: an elliptic high-pass
    (order 4, 0.5 dB ripple, 40 dB stop) and an elliptic low-pass (order 8, 0.5 dB ripple, 60 dB stop).
    Their response: -1.0 to -0.1 dB from 300 to 3400 Hz, at most -35.9 dB below 200 Hz and -35.6 dB
    above 3.6 kHz.

    A steeper high-pass is not a harsher line so much as a trap: with an order-6, 50 dB one
    (-17 dB above 3.6 kHz) the default recogniser returned nothing at all for one of eleven clean
    human recordings, which a real line's gentler low end does not do (measured here)."""
    try:
        from scipy.signal import ellip, sosfilt
    except ImportError:
        raise ConfigError("the phone channel needs scipy: install callwright[sim]") from None
    low, high = PASS_BAND
    sections = np.vstack(
        [
            ellip(4, 0.5, 40.0, low, btype="highpass", fs=sample_rate, output="sos"),
            ellip(8, 0.5, 60.0, high, btype="lowpass", fs=sample_rate, output="sos"),
        ]
    )
    return np.asarray(sosfilt(sections, audio), dtype=np.float64)


def gilbert_elliott(packets: int, good_to_bad: float, bad_to_good: float, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Which of ``packets`` a two-state Gilbert-Elliott chain loses (all in the bad state, none in the
    good one). The first state is drawn from the chain's stationary distribution, so the expected loss
    rate is ``good_to_bad / (good_to_bad + bad_to_good)`` from the first packet on; each stay in a
    state is geometric (mean ``1 / bad_to_good`` packets in the bad state)."""
    lost = np.zeros(packets, dtype=np.bool_)
    if good_to_bad <= 0.0 or packets == 0:
        return lost
    bad = bool(rng.random() < good_to_bad / (good_to_bad + bad_to_good))
    position = 0
    while position < packets:
        stay = int(rng.geometric(bad_to_good if bad else good_to_bad))
        if bad:
            lost[position : position + stay] = True
        position += stay
        bad = not bad
    return lost


def late_packets(packets: int, jitter_ms: float, buffer_ms: float, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Which packets miss the jitter buffer: each waits in the network an exponential time with mean
    ``jitter_ms`` (its standard deviation too) on top of a fixed delay, and the buffer plays it
    ``buffer_ms`` after that fixed delay; so a packet is late with probability
    ``exp(-buffer_ms / jitter_ms)``."""
    if jitter_ms <= 0.0:
        return np.zeros(packets, dtype=np.bool_)
    return np.asarray(rng.exponential(jitter_ms, packets) > buffer_ms, dtype=np.bool_)


def phone_line(audio: Audio, line: Phone, rng: np.random.Generator) -> tuple[Pcm, Delivery]:
    """``audio`` (16 kHz float, full scale 1.0) as the far end of ``line`` hears it: 8 kHz PCM16."""
    narrow = resample(from_float(band_pass(audio).astype(np.float32)), WIDE_RATE, PHONE_RATE)
    count = -(-narrow.size // PACKET)
    silence = mulaw_encode(np.zeros(1, dtype=np.int16))[0]
    codes = np.full(count * PACKET, silence, dtype=np.uint8)
    codes[: narrow.size] = np.frombuffer(mulaw_encode(narrow), dtype=np.uint8)
    rows = codes.reshape(count, PACKET)
    lost = gilbert_elliott(count, line.good_to_bad, line.bad_to_good, rng)
    late = late_packets(count, line.jitter_ms, line.jitter_buffer_ms, rng) & ~lost
    missing = lost | late
    if line.concealment == "repeat":
        arrived = np.where(missing, -1, np.arange(count))
        last = np.maximum.accumulate(arrived)  # the newest packet that arrived, at or before each one
        rows = np.where((last >= 0)[:, None], rows[np.maximum(last, 0)], silence)
    else:
        rows = np.where(missing[:, None], silence, rows)
    heard = mulaw_decode(np.ascontiguousarray(rows, dtype=np.uint8).tobytes())[: narrow.size]
    return heard, Delivery(count, int(lost.sum()), int(late.sum()))
