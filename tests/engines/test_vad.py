"""Voice activity detectors on synthesised speech surrounded by quiet noise."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.audio.pcm import rms_dbfs
from callwright.audio.resample import resample
from callwright.engines.base import Pcm, VoiceActivityDetector
from callwright.engines.fakes import EnergyVad
from callwright.engines.vad.silero import SileroVad
from callwright.engines.vad.webrtc import WebRtcVad

RATE = 16000
PAD = 2 * RATE  # two seconds of background noise before and after the speech


def with_background(speech: Pcm, source_rate: int) -> Pcm:
    """``speech`` at 16 kHz between two-second stretches of noise at about -60 dBFS."""
    voiced = resample(speech, source_rate, RATE)
    out = np.random.default_rng(7).normal(0.0, 33.0, PAD * 2 + voiced.size)
    out[PAD : PAD + voiced.size] += voiced
    return np.clip(out, -32768, 32767).astype(np.int16)


def probabilities(vad: VoiceActivityDetector, audio: Pcm) -> tuple[list[float], list[float]]:
    """(probabilities of loud frames inside the speech, of frames in the leading noise)."""
    stream = vad.stream()
    n = stream.frame_samples
    speech, silence = [], []
    for start in range(0, audio.size - n + 1, n):
        frame = audio[start : start + n]
        p = stream.speech_probability(frame)
        if 4800 <= start and start + n <= PAD - 1600:  # skip webrtc's start-up frames and the hangover
            silence.append(p)
        elif PAD <= start < audio.size - PAD and rms_dbfs(frame) > -35:
            speech.append(p)
    return speech, silence


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad()


@pytest.mark.parametrize("voice", ["piper", "espeak"])
@pytest.mark.parametrize("engine", ["silero", "webrtc"])
def test_vad_hears_speech_and_not_noise(
    engine: str,
    voice: str,
    silero: SileroVad,
    piper_speech: dict[str, Pcm],
    espeak_speech: dict[str, Pcm],
) -> None:
    vad: VoiceActivityDetector = silero if engine == "silero" else WebRtcVad()
    for speech in (piper_speech if voice == "piper" else espeak_speech).values():
        inside, outside = probabilities(vad, with_background(speech, 22050))
        assert len(inside) > 20 and len(outside) > 20
        assert np.mean(np.array(inside) > 0.5) >= 0.9, inside
        assert np.mean(np.array(outside) > 0.5) <= 0.02, outside
        if engine == "silero":
            assert np.mean(inside) > 0.8 and np.max(outside) < 0.2


def test_silero_streams_keep_their_own_state(silero: SileroVad, piper_speech: dict[str, Pcm]) -> None:
    audio = with_background(next(iter(piper_speech.values())), 22050)[PAD : PAD + 512 * 10]
    frames = audio.reshape(10, 512)
    first, second = silero.stream(), silero.stream()
    run_alone = [first.speech_probability(f) for f in frames]
    second.speech_probability(np.zeros(512, dtype=np.int16))
    second.reset()
    assert [second.speech_probability(f) for f in frames] == run_alone
    first.reset()
    assert [first.speech_probability(f) for f in frames] == run_alone


@pytest.mark.parametrize("vad", [SileroVad, WebRtcVad, EnergyVad], ids=["silero", "webrtc", "energy"])
def test_vad_attributes(vad: type[SileroVad | WebRtcVad | EnergyVad]) -> None:
    detector = vad()
    assert detector.sample_rate == 16000
    assert detector.stream().frame_samples == {"silero": 512, "webrtc": 480, "energy": 320}[detector.name]


def test_vad_rejects_wrong_frame_sizes(silero: SileroVad) -> None:
    with pytest.raises(ValueError, match="512 samples"):
        silero.stream().speech_probability(np.zeros(480, dtype=np.int16))
    with pytest.raises(ValueError, match="480 samples"):
        WebRtcVad().stream().speech_probability(np.zeros(512, dtype=np.int16))
