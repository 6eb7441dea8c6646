"""The phone line: band-pass, 8 kHz μ-law, Gilbert-Elliott loss, jitter and concealment."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.audio.codecs import mulaw_decode, mulaw_encode
from callwright.audio.pcm import Pcm
from callwright.simulate import Environment, Noise, Phone, render
from callwright.simulate.channel import PACKET, gilbert_elliott, late_packets, phone_line


def band_levels(audio: Pcm | np.ndarray, rate: int) -> dict[str, float]:
    """Power per Hz below and above the telephone band, in dB relative to the 300-3400 Hz band, and in
    that band (in dB of power per Hz, full scale 1.0)."""
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64) / (32767.0 if audio.dtype == np.int16 else 1.0))) ** 2
    spectrum /= rate * audio.size
    frequencies = np.fft.rfftfreq(audio.size, 1 / rate)
    power = lambda low, high: spectrum[(frequencies >= low) & (frequencies < high)].mean()  # noqa: E731
    inside = power(300, 3400)
    return {
        "below 200 Hz": 10 * np.log10(power(20, 200) / inside),
        "3.6-3.9 kHz": 10 * np.log10(power(3600, 3900) / inside),
        "in band": 10 * np.log10(inside),
    }


def test_the_phone_band_is_300_to_3400_hz_at_8_khz() -> None:
    """White noise down a lossless line: the output is 8 kHz, and what lay outside the telephone band is
    at least 30 dB weaker (below 200 Hz and at 3.6-3.9 kHz) than what lay inside, where it was flat."""
    noise = np.random.default_rng(0).standard_normal(16000 * 10) * 0.05
    before = band_levels(noise, 16000)
    assert abs(before["below 200 Hz"]) < 0.5 and abs(before["3.6-3.9 kHz"]) < 0.5
    heard, delivery = phone_line(noise, Phone(), np.random.default_rng(1))
    assert heard.dtype == np.int16 and heard.size == noise.size // 2
    assert (delivery.packets, delivery.lost, delivery.late) == (500, 0, 0)
    after = band_levels(heard, 8000)
    assert after["below 200 Hz"] < -30, after
    assert after["3.6-3.9 kHz"] < -30, after
    assert after["in band"] == pytest.approx(before["in band"], abs=1.0)  # inside: passed (within the ripple)


def test_the_output_is_mu_law_as_sent() -> None:
    """Re-encoding the 8 kHz output gives the packets' bytes back: a Twilio runner can send it as is."""
    noise = np.random.default_rng(2).standard_normal(16000) * 0.1
    heard, _ = phone_line(noise, Phone(loss_rate=0.2, loss_burst=2), np.random.default_rng(3))
    assert np.array_equal(mulaw_decode(mulaw_encode(heard)), heard)


@pytest.mark.parametrize(("loss_rate", "loss_burst"), [(0.01, 1.0), (0.05, 3.0), (0.1, 2.0), (0.2, 8.0)])
def test_gilbert_elliott_loses_at_its_stationary_rate_in_bursts(loss_rate: float, loss_burst: float) -> None:
    line = Phone(loss_rate=loss_rate, loss_burst=loss_burst)
    lost = gilbert_elliott(500_000, line.good_to_bad, line.bad_to_good, np.random.default_rng(8))
    assert lost.mean() == pytest.approx(loss_rate, rel=0.05)
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert runs.mean() == pytest.approx(loss_burst, rel=0.05)  # 1 / P(bad -> good)
    # bursty: a loss follows a loss far more often than the loss rate alone would give
    after_loss = lost[1:][lost[:-1]].mean()
    assert after_loss == pytest.approx(1.0 - 1.0 / loss_burst, abs=0.02)


def test_late_packets_follow_the_jitter_buffer() -> None:
    """Exponential delays with mean 20 ms against a 60 ms buffer: exp(-3) = 5.0 % arrive too late."""
    late = late_packets(200_000, 20.0, 60.0, np.random.default_rng(4))
    assert late.mean() == pytest.approx(np.exp(-3.0), rel=0.05)
    assert not late_packets(1000, 0.0, 60.0, np.random.default_rng(4)).any()


def test_concealment_by_silence_and_by_repeat() -> None:
    tone = (np.sin(2 * np.pi * 1000 * np.arange(16000 * 4) / 16000) * 0.3).astype(np.float64)
    clean, _ = phone_line(tone, Phone(), np.random.default_rng(5))
    line = Phone(loss_rate=0.2, loss_burst=3.0, concealment="silence")
    silenced, delivery = phone_line(tone, line, np.random.default_rng(5))
    packets = lambda audio: audio[: audio.size // PACKET * PACKET].reshape(-1, PACKET)  # noqa: E731
    gone = ~np.all(packets(silenced) == packets(clean), axis=1)
    assert delivery.lost > 0 and gone.sum() == delivery.lost + delivery.late
    assert np.all(packets(silenced)[gone] == 0)
    repeated, again = phone_line(tone, line.model_copy(update={"concealment": "repeat"}), np.random.default_rng(5))
    assert again == delivery  # the same packets were lost
    for index in np.flatnonzero(gone):
        previous = index - 1
        while previous >= 0 and gone[previous]:
            previous -= 1
        expected = packets(clean)[previous] if previous >= 0 else 0
        assert np.array_equal(packets(repeated)[index], np.broadcast_to(expected, (PACKET,)))


def test_a_bursty_lossy_line_in_the_report(speech: Pcm) -> None:
    environment = Environment(
        noise=Noise(kind="pink", snr_db=20),
        channel=Phone(loss_rate=0.1, loss_burst=3.0, jitter_ms=30.0, jitter_buffer_ms=60.0),
    )
    out = render(speech, 16000, environment, seed=9)
    assert out.sample_rate == 8000 and out.audio.size == speech.size // 2
    report = out.report
    assert report.channel == "phone" and report.packets == -(-speech.size // 2 // PACKET)
    assert 0 < report.packets_lost < report.packets / 3 and 0 < report.packets_late < report.packets / 3
