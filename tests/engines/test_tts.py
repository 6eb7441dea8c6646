"""Real text-to-speech: Piper and espeak-ng."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from callwright.engines.base import Pcm, VoiceStyle
from callwright.engines.tts.espeak import EspeakTts, speak
from callwright.engines.tts.piper import PiperTts
from callwright.errors import EngineError


async def collect(tts: PiperTts | EspeakTts, text: str, style: VoiceStyle | None = None) -> list[Pcm]:
    return [chunk async for chunk in tts.synthesize(text, style)]


async def test_piper_streams_one_int16_chunk_per_sentence(piper: PiperTts) -> None:
    chunks = await collect(piper, "Thank you for calling. How can I help you today?")
    assert piper.sample_rate == 22050
    assert len(chunks) == 2
    assert all(chunk.dtype == np.int16 and chunk.ndim == 1 and chunk.size > 0 for chunk in chunks)
    assert 1.5 < sum(chunk.size for chunk in chunks) / piper.sample_rate < 4.0


async def test_piper_rate_shortens_speech(piper: PiperTts) -> None:
    text = "Your refund will arrive within five working days."
    normal = sum(chunk.size for chunk in await collect(piper, text))
    fast = sum(chunk.size for chunk in await collect(piper, text, VoiceStyle(rate=1.5)))
    assert 0.55 < fast / normal < 0.8  # Piper's durations are noisy; 1/1.5 is 0.67


async def test_piper_says_nothing_for_blank_text(piper: PiperTts) -> None:
    assert await collect(piper, "  ") == []


async def test_piper_cancellation_is_prompt_and_stops_the_work(piper: PiperTts) -> None:
    """Cancelling the stream comes back while the sentence in progress is still being synthesised
    (``busy``), not after it; that sentence is not delivered; and the stream has ended, so it asks the
    engine for no further sentence: the abandoned one is the last work done.

    No elapsed time is asserted. Each sentence is long (about a second of Piper's work on one core),
    so "the engine is still busy with it" is what "prompt" means here. That one inference runs at a
    time and that a cancelled request never starts are the inference thread's own, tested on a
    counting engine in ``test_inference.py``."""
    await piper.warm()
    clause = "which keeps the synthesiser busy for a good while, with words and more words to say"
    text = " ".join(f"This is sentence number {n}, {clause}, {clause}." for n in range(6))
    first_chunk = anyio.Event()
    chunks = 0
    stream = piper.synthesize(text)

    async def speak_all() -> None:
        nonlocal chunks
        async for _ in stream:
            chunks += 1
            first_chunk.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(speak_all)
        await first_chunk.wait()
        with anyio.fail_after(30):  # a guard: the second sentence starts at once and lasts ~1 s
            while not piper.busy:
                await anyio.sleep(0.005)
        delivered = chunks
        tg.cancel_scope.cancel()
    assert piper.busy  # the cancel did not wait for the sentence in progress
    assert delivered == chunks == 1  # and that sentence never reaches the caller
    assert await anext(stream, None) is None  # the stream has ended: nothing can ask for another sentence
    with anyio.fail_after(30):  # a guard: the abandoned sentence finishes in its worker thread
        while piper.busy:
            await anyio.sleep(0.01)


async def test_espeak_speaks_accents_and_variants() -> None:
    plain, rate = speak("Please hold the line.")
    assert rate == 22050 and plain.dtype == np.int16 and plain.size > rate // 2
    for voice in ("en-gb-scotland", "en-029", "en-us+f3"):
        audio, _ = speak("Please hold the line.", voice=voice)
        assert audio.size > rate // 2 and not np.array_equal(audio, plain), voice


async def test_espeak_rate_and_pitch() -> None:
    slow, _ = speak("Please hold the line.", rate_wpm=120)
    fast, _ = speak("Please hold the line.", rate_wpm=300)
    assert fast.size < 0.6 * slow.size
    low, _ = speak("Please hold the line.", pitch=20)
    high, _ = speak("Please hold the line.", pitch=80)
    assert not np.array_equal(low, high)


async def test_espeak_engine_maps_voice_style(espeak: EspeakTts) -> None:
    normal = np.concatenate(await collect(espeak, "Is there anything else?"))
    quick = np.concatenate(await collect(espeak, "Is there anything else?", VoiceStyle(rate=2.0)))
    scottish = np.concatenate(await collect(espeak, "Is there anything else?", VoiceStyle(voice="en-gb-scotland")))
    assert quick.size < 0.7 * normal.size
    assert not np.array_equal(scottish, normal)
    # espeak-ng varies its output by a few samples from call to call, even with the same settings.
    assert abs(normal.size - speak("Is there anything else?")[0].size) < 0.01 * normal.size


async def test_espeak_unknown_voice_is_a_clear_error(espeak: EspeakTts) -> None:
    with pytest.raises(EngineError, match="no voice 'xx-nowhere'"):
        await collect(espeak, "Hello.", VoiceStyle(voice="xx-nowhere"))
    assert await collect(espeak, "Still working.")  # the library is left in a usable state
