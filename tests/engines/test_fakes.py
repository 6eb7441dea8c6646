"""The fake engines users test their agents with."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from callwright.engines.base import VoiceStyle
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.errors import EngineError

SECOND = np.zeros(16000, dtype=np.int16)


async def test_fake_stt_follows_its_script_then_says_so() -> None:
    stt = FakeStt(["one", "two"], confidence=None)
    assert [(await stt.transcribe(SECOND, 16000)).text for _ in range(2)] == ["one", "two"]
    with pytest.raises(EngineError, match="script exhausted after 2"):
        await stt.transcribe(SECOND, 16000)
    assert stt.calls == 3


async def test_fake_stt_can_answer_from_the_audio_length() -> None:
    stt = FakeStt(lambda seconds: f"{seconds:.1f} seconds", language="fr")
    result = await stt.transcribe(np.zeros(12000, dtype=np.int16), 8000)
    assert (result.text, result.confidence, result.language) == ("1.5 seconds", 0.9, "fr")


async def test_fake_stt_fails_then_recovers_or_hangs() -> None:
    stt = FakeStt(["ok"], fail_times=1, retryable=False)
    with pytest.raises(EngineError) as caught:
        await stt.transcribe(SECOND, 16000)
    assert not caught.value.retryable and caught.value.engine == "fake-stt"
    assert (await stt.transcribe(SECOND, 16000)).text == "ok"
    with anyio.move_on_after(0.01) as scope:
        await FakeStt(["never"], hang=True).transcribe(SECOND, 16000)
    assert scope.cancelled_caught


async def test_fake_tts_makes_a_tone_as_long_as_the_text() -> None:
    tts = FakeTts(sample_rate=8000, chunk_ms=100)
    chunks = [chunk async for chunk in tts.synthesize("x" * 25)]  # 25 characters: 1.5 s
    assert [chunk.size for chunk in chunks] == [800] * 15
    audio = np.concatenate(chunks)
    assert np.array_equal(audio, tts.render("x" * 25))
    assert np.abs(audio).max() == pytest.approx(0.3 * 32767, rel=0.01)
    fast = np.concatenate([c async for c in tts.synthesize("x" * 25, VoiceStyle(rate=2.0, pitch=2.0))])
    assert fast.size == 6000
    crossings = np.count_nonzero(np.diff(np.signbit(fast)))
    assert crossings == pytest.approx(2 * 440 * 0.75, abs=2)
    assert tts.texts == ["x" * 25] * 2


async def test_fake_tts_fails_before_or_during_the_sentence() -> None:
    tts = FakeTts(fail_times=1)
    with pytest.raises(EngineError):
        [chunk async for chunk in tts.synthesize("hello")]
    assert len([chunk async for chunk in tts.synthesize("hello")]) == 3
    midway = FakeTts(fail_after_chunks=2, retryable=False)
    got = []
    with pytest.raises(EngineError, match="after 2 chunks"):
        async for chunk in midway.synthesize("a longer sentence"):
            got.append(chunk)
    assert len(got) == 2


def test_energy_vad_follows_loudness() -> None:
    vad = EnergyVad(threshold_db=-40.0, width_db=10.0)
    assert vad.stream() is vad
    t = np.arange(320) / 16000
    for dbfs, expected in [(-60, 0.0), (-45, 0.0), (-40, 0.5), (-37.5, 0.75), (-20, 1.0)]:
        amplitude = 10 ** (dbfs / 20) * np.sqrt(2) * 32768
        frame = (amplitude * np.sin(2 * np.pi * 500 * t)).astype(np.int16)
        assert vad.speech_probability(frame) == pytest.approx(expected, abs=0.02), dbfs
    assert EnergyVad(width_db=0).speech_probability(np.zeros(320, dtype=np.int16)) == 0.0
