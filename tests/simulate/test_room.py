"""Room reverberation: the impulse response has the requested RT60, the speech keeps its timing and
its level, and a longer RT60 smears it more."""

from __future__ import annotations

import numpy as np
import pyroomacoustics
import pytest

from callwright.audio.pcm import Pcm
from callwright.simulate import Environment, Room, active_power, render
from callwright.simulate.room import impulse_response


@pytest.mark.parametrize("rt60", [0.3, 0.6])
@pytest.mark.parametrize("distance", [0.5, 1.5])
def test_the_impulse_response_has_the_requested_rt60(rt60: float, distance: float) -> None:
    """Measured with pyroomacoustics' own Schroeder-integral T30, over three seeds (three placements)."""
    for seed in range(3):
        response, placement = impulse_response(Room(rt60=rt60, distance=distance), np.random.default_rng(seed))
        measured = pyroomacoustics.experimental.measure_rt60(response, fs=16000, decay_db=30)
        assert measured == pytest.approx(rt60, rel=0.15), (seed, measured)
        assert placement.rt60_measured == pytest.approx(measured)
        apart = np.linalg.norm(np.subtract(placement.mouth, placement.microphone))
        assert apart == pytest.approx(distance)
        assert np.argmax(np.abs(response)) <= 41  # it starts at the direct sound (a 81-tap fractional delay)


def test_reverberation_keeps_length_and_level(speech: Pcm) -> None:
    dry = speech.astype(np.float64) / 32767.0
    out = render(speech, 16000, Environment(room=Room(rt60=0.6, distance=1.5)), seed=4)
    wet = out.audio / 32767.0
    assert wet.size == dry.size and out.report.rt60 == 0.6 and out.report.distance_m == 1.5
    assert out.report.rt60_measured == pytest.approx(0.6, rel=0.15)
    assert 10 * np.log10(active_power(wet, 16000) / active_power(dry, 16000)) == pytest.approx(0.0, abs=0.1)


def test_the_direct_sound_arrives_on_time() -> None:
    """A 20 ms tone at 1 s: through the room it starts within 3 ms of 1 s (the fractional delay filter's
    half-length is 2.5 ms), and rings on after it ends."""
    pip = np.zeros(32000, dtype=np.int16)
    pip[16000:16320] = (np.sin(2 * np.pi * 1000 * np.arange(320) / 16000) * 10000).astype(np.int16)
    wet = render(pip, 16000, Environment(room=Room(rt60=0.6, distance=1.5)), seed=2).audio
    loud = np.flatnonzero(np.abs(wet) > 0.1 * np.abs(wet).max())
    assert abs(loud[0] - 16000) <= 48, loud[0]
    assert loud[-1] > 16320 + 160  # still audible 10 ms after the tone stopped


def test_more_reverberation_is_more_smearing(speech: Pcm) -> None:
    """The envelope's modulation (what makes syllables distinct) drops as RT60 grows."""
    def modulation(audio: Pcm) -> float:
        envelope = np.sqrt((audio[: audio.size // 320 * 320].astype(np.float64).reshape(-1, 320) ** 2).mean(axis=1))
        return float(np.std(envelope) / np.mean(envelope))

    depths = [modulation(speech)] + [
        modulation(render(speech, 16000, Environment(room=Room(rt60=rt60, distance=1.5)), seed=1).audio)
        for rt60 in (0.3, 0.9)
    ]
    assert depths[0] > depths[1] > depths[2], depths
