"""Real speech-to-text: speech synthesised by Piper and espeak-ng, transcribed back, and a small set of
recorded human speech (see ``test_moonshine_on_recorded_human_speech`` and docs/testing.md)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio
import anyio.to_thread
import numpy as np
import numpy.typing as npt
import pytest

from callwright.audio.codecs import mulaw_decode, mulaw_encode
from callwright.audio.resample import resample
from callwright.audio.wav import read_wav
from callwright.engines.base import Pcm, SpeechToText, Transcription
from callwright.engines.stt.moonshine import MoonshineStt, bundled_model_dir, converted_model
from callwright.engines.stt.whisper import WhisperStt, assemble_model
from callwright.errors import ConfigError, EngineError

Wer = Callable[[Sequence[str], Sequence[str]], float]


async def check_round_trip(stt: SpeechToText, speech: dict[str, Pcm], rate: int, wer: Wer) -> None:
    results = [await stt.transcribe(audio, rate) for audio in speech.values()]
    assert wer(list(speech), [result.text for result in results]) <= 0.2, results
    for result in results:
        assert result.confidence is not None and 0.0 < result.confidence <= 1.0, result
        assert result.language == "en"


async def test_moonshine_transcribes_piper(moonshine: MoonshineStt, piper_speech: dict[str, Pcm], wer: Wer) -> None:
    await check_round_trip(moonshine, piper_speech, 22050, wer)


async def test_moonshine_transcribes_espeak(moonshine: MoonshineStt, espeak_speech: dict[str, Pcm], wer: Wer) -> None:
    await check_round_trip(moonshine, espeak_speech, 22050, wer)


async def test_moonshine_takes_telephone_audio(moonshine: MoonshineStt, piper_speech: dict[str, Pcm], wer: Wer) -> None:
    text, audio = next(iter(piper_speech.items()))
    result = await moonshine.transcribe(resample(audio, 22050, 8000), 8000)
    assert wer([text], [result.text]) <= 0.2, result


async def test_moonshine_serves_concurrent_calls(
    moonshine: MoonshineStt, piper_speech: dict[str, Pcm], wer: Wer
) -> None:
    results: dict[str, Transcription] = {}

    async def one(text: str, audio: Pcm) -> None:
        results[text] = await moonshine.transcribe(audio, 22050)

    async with anyio.create_task_group() as tg:
        for text, audio in piper_speech.items():
            tg.start_soon(one, text, audio)
    assert wer(list(results), [result.text for result in results.values()]) <= 0.2, results


POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")  # Debian's pocketsphinx-testdata


def recorded_human_speech() -> list[tuple[str, Pcm]]:
    """(what was said, 16 kHz audio) for eleven recordings of people, 104 words, 44 s in all.

    Five sentences of a LibriVox reading of *Sense and Sensibility* (public domain) and five card
    names recorded for pocketsphinx's tests (BSD-2, Carnegie Mellon University), from Debian's
    ``pocketsphinx-testdata``, with the transcriptions that ship with them; and the one recording in
    the moonshine-cpp wheel (MIT, its speaker not named), whose words are Beckett's.
    """
    if not POCKETSPHINX_DATA.is_dir():
        pytest.fail(f"{POCKETSPHINX_DATA} is missing: apt-get install pocketsphinx-testdata", pytrace=False)
    spoken: list[tuple[str, Pcm]] = []
    for folder, transcription in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (POCKETSPHINX_DATA / folder / transcription).read_text().splitlines():
            said = re.fullmatch(r"<s>(.*)</s> \((.*)\)", line.strip())
            assert said is not None, line
            audio, rate = read_wav(POCKETSPHINX_DATA / folder / f"{said.group(2)}.wav")
            assert rate == 16000
            spoken.append((" ".join(said.group(1).split()), audio))
    spec = importlib.util.find_spec("moonshine_cpp")
    assert spec is not None and spec.submodule_search_locations
    audio, rate = read_wav(Path(spec.submodule_search_locations[0]) / "test-data" / "beckett.wav")
    assert rate == 16000
    spoken.append(("ever tried ever failed no matter try again fail again fail better", audio))
    return spoken


async def test_moonshine_on_recorded_human_speech(moonshine: MoonshineStt, wer: Wer) -> None:
    """The default recogniser on people, not synthesisers: as recorded (16 kHz), and resampled to
    8 kHz through μ-law and back (a phone codec's round trip). Measured once at 5 errors in 104
    words (4.8 %) both ways: "Mr." for "mister" (our normalisation does not equate them), the
    reader's repeated "a" left out, and "clubs" heard as "cloves" or "clothes" three times. The
    bound allows one word more. Read, quiet speech from three sources: this is not a measure of
    accuracy on callers (docs/testing.md)."""
    spoken = recorded_human_speech()
    said = [text for text, _ in spoken]
    assert sum(len(text.split()) for text in said) == 104
    as_recorded = [(await moonshine.transcribe(audio, 16000)).text for _, audio in spoken]
    on_the_phone = [
        (await moonshine.transcribe(mulaw_decode(mulaw_encode(resample(audio, 16000, 8000))), 8000)).text
        for _, audio in spoken
    ]
    assert wer(said, as_recorded) <= 6 / 104, list(zip(said, as_recorded, strict=True))
    assert wer(said, on_the_phone) <= 6 / 104, list(zip(said, on_the_phone, strict=True))


class TracedMoonshine(MoonshineStt):
    """Moonshine that logs, from the thread it decodes in, when each decoding starts and ends.

    (The one place these tests reach past the protocol: a decoding's thread has no public seam.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.started = threading.Event()
        self._log_lock = threading.Lock()

    def _run(self, samples: npt.NDArray[np.float32]) -> tuple[str, float]:
        with self._log_lock:
            self.log.append("start")
        self.started.set()
        try:
            return super()._run(samples)
        finally:
            with self._log_lock:
                self.log.append("end")


@pytest.fixture(scope="module")
def traced_moonshine() -> TracedMoonshine:
    return TracedMoonshine()


async def test_moonshine_never_decodes_two_transcriptions_at_once(
    traced_moonshine: TracedMoonshine, piper_speech: dict[str, Pcm], wer: Wer
) -> None:
    stt = traced_moonshine
    stt.log.clear()
    results: dict[str, Transcription] = {}

    async def one(text: str, audio: Pcm) -> None:
        results[text] = await stt.transcribe(audio, 22050)

    async with anyio.create_task_group() as tg:
        for text, audio in piper_speech.items():
            tg.start_soon(one, text, audio)
    assert stt.log == ["start", "end"] * len(piper_speech)
    assert wer(list(results), [result.text for result in results.values()]) <= 0.2, results


async def test_moonshine_waits_for_a_decoding_its_caller_abandoned(
    traced_moonshine: TracedMoonshine, piper_speech: dict[str, Pcm], wer: Wer
) -> None:
    stt = traced_moonshine
    stt.log.clear()
    stt.started.clear()
    (_, abandoned), (text, audio) = list(piper_speech.items())[:2]
    async with anyio.create_task_group() as tg:
        tg.start_soon(stt.transcribe, abandoned, 22050)
        await anyio.to_thread.run_sync(stt.started.wait)
        tg.cancel_scope.cancel()  # returns at once; the decoding goes on in its thread
    result = await stt.transcribe(audio, 22050)
    assert stt.log == ["start", "end", "start", "end"]  # the next one started only after it ended
    assert not stt.busy
    assert wer([text], [result.text]) <= 0.2, result


async def test_moonshine_is_english_only_and_ignores_blips(moonshine: MoonshineStt) -> None:
    with pytest.raises(EngineError, match="English only") as caught:
        await moonshine.transcribe(np.zeros(16000, dtype=np.int16), 16000, language="de")
    assert caught.value.engine == "moonshine" and not caught.value.retryable
    assert await moonshine.transcribe(np.zeros(800, dtype=np.int16), 16000) == Transcription("", None, "en")


def test_moonshine_model_is_converted_once_even_by_racing_threads(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def convert() -> None:
        try:
            results.append(converted_model(bundled_model_dir(), tmp_path))
        except BaseException as exc:
            errors.append(exc)

    racers = [threading.Thread(target=convert) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert not errors and len(results) == 2 and results[0] == results[1]
    (target,) = tmp_path.iterdir()  # no scratch copy left behind
    assert target == results[0] and target.name.startswith("base-en-")
    assert sorted(p.name for p in target.iterdir()) == ["decoder_model_merged.onnx", "encoder_model.onnx"]
    modified = (target / "decoder_model_merged.onnx").stat().st_mtime_ns
    assert converted_model(bundled_model_dir(), tmp_path) == target
    assert (target / "decoder_model_merged.onnx").stat().st_mtime_ns == modified

    (target / "encoder_model.onnx").unlink()
    with pytest.raises(ConfigError, match="delete it"):
        converted_model(bundled_model_dir(), tmp_path)
    shutil.rmtree(target)  # 42 MB; pytest keeps the last three sessions' tmp_path


@pytest.mark.slow
async def test_whisper_transcribes_piper(whisper: WhisperStt, piper_speech: dict[str, Pcm], wer: Wer) -> None:
    await check_round_trip(whisper, piper_speech, 22050, wer)


@pytest.mark.slow
async def test_whisper_transcribes_espeak(whisper: WhisperStt, espeak_speech: dict[str, Pcm], wer: Wer) -> None:
    await check_round_trip(whisper, espeak_speech, 22050, wer)


@pytest.mark.slow
async def test_whisper_returns_nothing_for_nothing(whisper: WhisperStt) -> None:
    result = await whisper.transcribe(np.zeros(0, dtype=np.int16), 16000)
    assert result == Transcription("", None, "en")


def test_whisper_model_is_assembled_once_even_by_racing_threads(tmp_path: Path) -> None:
    """Two threads assemble the model into one folder at once: both get it, one copy is kept, and no
    scratch copy is left. ``assemble_model`` promises this for racing processes too; its guard is in
    the file system (a private scratch folder, then one atomic rename), the same for threads and
    processes, but this test starts no second process."""
    target = tmp_path / "whisper-base-ct2"
    results: list[Path] = []
    errors: list[BaseException] = []

    def assemble() -> None:
        try:
            results.append(assemble_model(target))
        except BaseException as exc:
            errors.append(exc)

    racers = [threading.Thread(target=assemble) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert not errors and results == [target, target]
    assert (target / "model.bin").stat().st_size == 145_217_607
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base-ct2"]  # no scratch copy left behind
    modified = (target / "model.bin").stat().st_mtime_ns
    assert assemble_model(target) == target
    assert (target / "model.bin").stat().st_mtime_ns == modified
    shutil.rmtree(target)  # 145 MB; pytest keeps the last three sessions' tmp_path
