import numpy as np

from callwright.audio import Resampler, mulaw_decode, mulaw_encode, read_wav, resample, write_wav
from callwright.audio.pcm import speech_end


def tone(seconds: float, rate: int, hz: float = 440.0, amp: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amp).astype(np.int16)


def test_mulaw_round_trip_is_close_and_one_byte_per_sample() -> None:
    x = tone(0.5, 8000)
    coded = mulaw_encode(x)
    assert len(coded) == x.size
    y = mulaw_decode(coded)
    assert np.corrcoef(x, y)[0, 1] > 0.999
    assert mulaw_decode(mulaw_encode(np.array([0], dtype=np.int16)))[0] == 0
    assert abs(int(mulaw_decode(mulaw_encode(np.array([32767], dtype=np.int16)))[0]) - 32124) < 10


def test_mulaw_matches_g711_reference_points() -> None:
    # G.711: 0x00 and 0x80 are the loudest codes, 0xFF/0x7F are zero.
    assert mulaw_decode(bytes([0xFF]))[0] == 0
    assert mulaw_decode(bytes([0x00]))[0] == -32124
    assert mulaw_decode(bytes([0x80]))[0] == 32124


def test_streaming_resampler_matches_one_shot_length() -> None:
    x = tone(1.0, 8000)
    r = Resampler(8000, 16000)
    out = np.concatenate([r(x[i : i + 160]) for i in range(0, x.size, 160)] + [r(x[:0], last=True)])
    assert abs(out.size - 16000) <= 2
    assert resample(x, 8000, 16000).size == 16000


def test_wav_round_trip_and_speech_end(tmp_path) -> None:
    x = np.concatenate([tone(1.0, 16000), np.zeros(8000, dtype=np.int16)])
    write_wav(tmp_path / "a.wav", x, 16000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and np.array_equal(x, y)
    assert abs(speech_end(x, 16000) - 1.0) < 0.03
