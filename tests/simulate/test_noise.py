"""Noise mixed at a requested SNR, bursts at a requested rate, and seeded reproducibility."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from callwright.audio.pcm import Pcm, to_float
from callwright.audio.resample import resample
from callwright.errors import ConfigError
from callwright.simulate import Burst, Environment, Noise, Phone, active_mask, render, sounds
from callwright.simulate.channel import phone_line
from callwright.simulate.environment import BurstKind, NoiseKind


@pytest.mark.parametrize("kind", get_args(NoiseKind))
def test_measured_snr_is_the_requested_one_for_every_noise_kind(speech: Pcm, kind: str) -> None:
    """Measured independently of the mixer: the noise is what is left of the 16-bit output once the
    speech (turned down by the reported headroom gain) is taken away, over the speech's active frames."""
    clean = speech.astype(np.float64) / 32767.0
    mask = active_mask(clean, 16000)
    assert 0.5 < mask.mean() < 0.95  # the reader's pauses are left out, her words are in
    for snr in (-5.0, 0.0, 5.0, 10.0, 20.0):
        out = render(speech, 16000, Environment(noise=Noise(kind=kind, snr_db=snr)), seed=7)
        assert out.sample_rate == 16000 and out.audio.dtype == np.int16 and out.audio.size == speech.size
        said = clean * 10.0 ** (out.report.gain_db / 20.0)
        noise = out.audio / 32767.0 - said
        measured = 10.0 * np.log10(np.mean(said[mask] ** 2) / np.mean(noise[mask] ** 2))
        assert abs(measured - snr) < 0.5, (kind, snr, measured)
        assert out.report.snr_db_measured == pytest.approx(measured, abs=0.01)
        assert np.max(np.abs(out.audio)) < 32767  # the headroom gain kept it from clipping
        assert np.std(noise) > 1e-3  # there is noise


def test_coloured_noise_falls_by_its_slope() -> None:
    rng = np.random.default_rng(0)
    frequencies = np.fft.rfftfreq(16000 * 20, 1 / 16000)
    octaves = [(frequencies >= low) & (frequencies < 2 * low) for low in (250, 500, 1000, 2000, 4000)]
    for exponent, per_octave in ((1.0, -3.0), (2.0, -6.0)):
        spectrum = np.abs(np.fft.rfft(sounds.coloured(16000 * 20, exponent, rng))) ** 2
        levels = [10 * np.log10(spectrum[octave].mean()) for octave in octaves]
        slopes = np.diff(levels)
        assert np.all(np.abs(slopes - per_octave) < 0.5), (exponent, slopes)


def test_recorded_beds_loop_without_clicks_or_gaps() -> None:
    """A bed longer than every clip is chained with crossfades: no 10 ms stretch of it falls silent,
    and no sample jumps further than the clips themselves ever do."""
    rng = np.random.default_rng(3)
    for kind in ("traffic", "market", "crowd"):
        clips = sounds.clips(kind)
        bed = sounds.noise(kind, 16000 * 30, rng)
        assert bed.size == 16000 * 30
        windows = bed[: bed.size // 160 * 160].reshape(-1, 160)
        assert np.sqrt((windows**2).mean(axis=1)).min() > 0.01, kind
        worst_jump = max(float(np.max(np.abs(np.diff(clip)))) for clip in clips)
        assert np.max(np.abs(np.diff(bed))) <= worst_jump * 1.01, kind


def test_same_seed_same_audio_other_seed_other_audio(speech: Pcm) -> None:
    environment = Environment.model_validate(
        {
            "room": {"rt60": 0.4},
            "noise": {"kind": "babble", "snr_db": 5},
            "bursts": [{"kind": "horn", "rate_per_min": 20}],
            "channel": {"kind": "phone", "loss_rate": 0.1, "loss_burst": 2, "jitter_ms": 20},
        }
    )
    first, again, other = (render(speech, 16000, environment, seed=seed) for seed in (11, 11, 12))
    assert np.array_equal(first.audio, again.audio) and first.report == again.report
    assert not np.array_equal(first.audio, other.audio)
    assert first.report.seed == 11 and other.report.seed == 12


def test_changing_the_channel_leaves_the_noise_draws_alone(speech: Pcm) -> None:
    noisy = Environment(noise=Noise(kind="white", snr_db=10))
    wide = render(speech, 16000, noisy, seed=5)
    phone = render(speech, 16000, noisy.model_copy(update={"channel": Phone()}), seed=5)
    assert phone.sample_rate == 8000
    # the same microphone signal went down the line: a lossless line draws nothing from its generator
    line, _ = phone_line(to_float(wide.audio).astype(np.float64), Phone(), np.random.default_rng(0))
    assert np.array_equal(phone.audio, line)


def test_input_at_another_rate_or_as_float_is_taken(speech: Pcm) -> None:
    environment = Environment(noise=Noise(kind="pink", snr_db=10))
    at_16k = render(speech, 16000, environment, seed=1)
    as_float = render(speech.astype(np.float32) / 32768.0, 16000, environment, seed=1)
    assert np.max(np.abs(at_16k.audio.astype(int) - as_float.audio.astype(int))) <= 2
    at_22k = render(resample(speech, 16000, 22050), 22050, environment, seed=1)
    assert at_22k.sample_rate == 16000 and abs(at_22k.audio.size - speech.size) <= 1
    with pytest.raises(ConfigError, match="int16 or float32"):
        render(speech.astype(np.float64), 16000, environment, seed=1)
    with pytest.raises(ConfigError, match="silent; pass reference_dbfs"):
        render(np.zeros(16000, dtype=np.int16), 16000, environment, seed=1)
    quiet = render(np.zeros(16000, dtype=np.int16), 16000, environment, seed=1, reference_dbfs=-30.0)
    assert 10 * np.log10(np.mean((quiet.audio / 32767.0) ** 2)) == pytest.approx(-40.0, abs=0.1)
    assert quiet.report.speech_dbfs == pytest.approx(-30.0) and quiet.report.snr_db_measured == pytest.approx(10.0, abs=0.05)


@pytest.mark.parametrize("kind", get_args(BurstKind))
def test_bursts_come_at_the_requested_rate_and_level(long_speech: Pcm, kind: str) -> None:
    """Ten minutes at 3 a minute: the Poisson count is within 3 standard deviations of 30 (the seed
    fixes it), every reported burst is in the audio at the requested level, and the gaps between
    bursts are exponential (about as many below the median gap as a Poisson process gives)."""
    level_db = -6.0
    environment = Environment(bursts=[Burst(kind=kind, rate_per_min=3.0, level_db=level_db)])
    out = render(long_speech, 16000, environment, seed=21)
    starts = np.array([event.start_s for event in out.report.bursts])
    assert abs(starts.size - 30) <= 3 * np.sqrt(30), starts.size
    assert all(event.kind == kind for event in out.report.bursts)
    assert np.all(np.diff(starts) >= 0) and starts.max() < 600
    clean = long_speech.astype(np.float64) / 32767.0 * 10.0 ** (out.report.gain_db / 20.0)
    added = out.audio / 32767.0 - clean
    speech_level = 10 * np.log10(np.mean(clean[active_mask(clean, 16000)] ** 2))
    lone = [e for e in out.report.bursts if all(abs(o.start_s - e.start_s) > 20 for o in out.report.bursts if o is not e)]
    assert lone, "no burst stood alone"
    for event in lone:
        first, last = int(event.start_s * 16000), int((event.start_s + event.duration_s) * 16000)
        piece = added[first:last]
        level = 10 * np.log10(np.mean(piece[active_mask(piece, 16000)] ** 2))
        assert level - speech_level == pytest.approx(level_db, abs=1.0), (event, level - speech_level)
        assert np.sqrt(np.mean(added[max(0, first - 16000) : first] ** 2)) < 1e-3  # silent just before it


def test_the_rate_holds_over_many_seeds(speech: Pcm) -> None:
    environment = Environment(bursts=[Burst(kind="synthetic_siren", rate_per_min=12.0)])
    counts = [len(render(speech, 16000, environment, seed=seed).report.bursts) for seed in range(200)]
    expected = 12.0 * speech.size / 16000 / 60 * 200
    assert abs(sum(counts) - expected) < 3 * np.sqrt(expected), (sum(counts), expected)


def test_a_missing_recording_names_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sounds, "LINCITY", tmp_path / "lincity")
    with pytest.raises(ConfigError, match=r"sound 'traffic' needs .*TraficHigh1.wav, which is missing: apt-get install lincity-ng-data"):
        sounds.noise("traffic", 16000, np.random.default_rng(0))
    monkeypatch.setattr(sounds, "FREEDESKTOP", tmp_path)
    with pytest.raises(ConfigError, match="apt-get install sound-theme-freedesktop"):
        sounds.burst("phone_ring", np.random.default_rng(0))


def test_the_opensfx_horn_is_the_catalogue_entry() -> None:
    """The parser finds the entry by its title and hands back a WAV: 0.67 s at 44.1 kHz."""
    data = sounds.opensfx_entry(sounds.OPENSFX, '"Modern car horn"')
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 44100)
        assert w.getnframes() / 44100 == pytest.approx(0.674, abs=0.01)
