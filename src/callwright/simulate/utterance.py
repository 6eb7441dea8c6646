"""What a synthetic caller says: :func:`speak` renders a text in a :class:`~.voices.Voice`, and
:func:`backchannel` a short "mm-hmm" or "yeah".

:func:`speak` is a pure function of the text, the voice and the seed; the same three give the same
samples. It works in four steps:

1. **Plan.** Fillers and restarts are drawn into the text (:func:`.disfluency.plan`), which cuts it
   into phrases at its punctuation, before each filler and after each repeated word.
2. **Synthesise** each phrase with the voice's engine, at the voice's rate and pitch times its
   emotion's (:mod:`.prosody`), and trim the silence the engine puts around it:

   - espeak-ng: SSML ``<prosody rate pitch range>`` (measured to move all three: the test and the docs);
   - hibari: its ``speed``, and pitch and range by scaling the F0 curve its network predicts before
     hibari's own vocoder turns it into a waveform: a true pitch change, the formants stay;
   - Piper: its length scale, and pitch by resampling (:class:`~callwright.engines.tts.piper.PiperTts`:
     formants move with it). No range: Piper has no pitch curve to reach. Its graph's noise is
     switched off, because Piper draws it unseeded;
   - a recording: as recorded.
3. **Pause.** The phrases are joined with silences of the kind that follows each (after a clause,
   a sentence, "um", "uh", a restart: :data:`.prosody.PAUSES`) times the emotion's pause factor and
   a seeded log-normal jitter.
4. **Level.** The whole is set to an active level (:mod:`.levels`) of -26 dBFS plus the voice's and
   the emotion's ``loudness_db``, turned down only if a peak would clip (``limited_db``).

The engines' sample rates are kept (22,050 Hz for espeak and Piper, 24,000 Hz for hibari, 16,000 Hz
for the recordings): :func:`callwright.simulate.render` takes any rate.
"""

from __future__ import annotations

import functools
import json
import re
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..audio.pcm import Pcm
from ..errors import ConfigError, EngineError
from .disfluency import Phrase, plan, words
from .levels import Audio, active_power, to_db
from .prosody import PAUSE_JITTER, PAUSES, REFERENCE_DBFS, Prosody
from .recordings import load as load_recording
from .recordings import recording as find_recording
from .voices import Disfluency, Voice

PEAK = 0.97  # the loudest sample allowed, of full scale
TRIM_DB = 45.0  # a phrase's silence ends where a 10 ms frame comes within this of its loudest frame
TRIM_MARGIN_S = 0.02

BackchannelKind = Literal["mm-hmm", "uh-huh", "yeah", "right", "okay", "sure"]
# What each engine is given to say, and how long it lasts (s, before a +-15 % seeded jitter). Real
# backchannels are short, under a second (Ward & Tsukahara 2000, "Prosodic features which cue
# back-channel responses in English and Japanese"); these lengths are ours, chosen in 0.25-0.5 s.
BACKCHANNELS: dict[str, tuple[str, float]] = {
    "mm-hmm": ("mm hmm", 0.45),
    "uh-huh": ("uh huh", 0.45),
    "yeah": ("yeah", 0.3),
    "right": ("right", 0.35),
    "okay": ("okay", 0.45),
    "sure": ("sure", 0.35),
}
BACKCHANNEL_DB = -6.0  # said more quietly than the caller's turns (our choice)


class VoiceReport(BaseModel):
    """What :func:`speak` applied, for the simulator to record with each utterance. Factors are
    relative to the voice's own (1.0: unchanged); ``None`` where the engine cannot change it."""

    model_config = ConfigDict(frozen=True)

    seed: int
    engine: str
    voice: str
    variant: str | None
    language: str
    gender: str | None
    emotion: str
    emotion_strength: float
    rate: float | None
    pitch: float | None
    pitch_range: float | None
    loudness_db: float  # requested, relative to -26 dBFS (voice and emotion)
    level_dbfs: float  # measured active level of the result
    limited_db: float  # turned down this much so that no peak clips (0 or below)
    duration_s: float
    pauses_s: float  # silence inserted between phrases
    fillers: int
    restarts: int
    words: int  # of the intended text
    wpm: float  # words said (fillers and repeats included) per minute of the result
    rendered_as: list[str]  # which prosodic controls this engine applied


@dataclass(frozen=True)
class Utterance:
    """A caller's utterance. ``text`` is what they meant (the reference for WER), ``text_as_spoken``
    what they said, fillers and repeats included."""

    pcm: Pcm
    sample_rate: int
    text: str
    text_as_spoken: str
    report: VoiceReport

    @property
    def duration_s(self) -> float:
        return self.pcm.size / self.sample_rate


def speak(text: str, voice: Voice, *, seed: int) -> Utterance:
    """``text`` said by ``voice`` (see the module docstring). Blocks: a sentence takes a few ms with
    espeak, some 10 ms with hibari and about a tenth of its length with Piper; from async code call
    it through ``anyio.to_thread.run_sync``.

    For a ``recording`` voice the recording's own words are said: ``text`` must be empty or the same
    words (compared lower case, without punctuation)."""
    plan_rng, pause_rng, engine_rng = np.random.default_rng(seed).spawn(3)
    if voice.engine == "recording":
        return _recorded(text, voice, seed)
    prosody = voice.prosody
    planned = plan(text, voice.disfluency.fillers, voice.disfluency.restarts + prosody.restarts_per_100, plan_rng)
    engine = _engine(voice)
    said, sample_rate = engine.say([phrase.text for phrase in planned.phrases], prosody, engine_rng)
    pieces: list[Audio] = []
    pause_s = 0.0
    for phrase, audio in zip(planned.phrases, said, strict=True):
        pieces.append(_trimmed(audio, sample_rate))
        pause = _pause(phrase, prosody, pause_rng)
        pieces.append(np.zeros(round(pause * sample_rate)))
        pause_s += pause
    joined = np.concatenate(pieces) if pieces else np.zeros(0)
    pcm, level, limited = _levelled(joined, sample_rate, prosody.loudness_db)
    duration = pcm.size / sample_rate
    report = VoiceReport(
        seed=seed,
        engine=voice.engine,
        voice=voice.info.id,
        variant=voice.espeak_variant,
        language=voice.info.language,
        gender=voice.voice_gender,
        emotion=voice.emotion,
        emotion_strength=voice.emotion_strength,
        rate=prosody.rate,
        pitch=prosody.pitch,
        pitch_range=prosody.pitch_range if engine.has_range else None,
        loudness_db=prosody.loudness_db,
        level_dbfs=level,
        limited_db=limited,
        duration_s=round(duration, 4),
        pauses_s=round(pause_s, 4),
        fillers=planned.fillers,
        restarts=planned.restarts,
        words=len(words(text)),
        wpm=round(len(words(planned.text)) / duration * 60.0, 1) if duration > 0 else 0.0,
        rendered_as=list(engine.controls),
    )
    return Utterance(pcm, sample_rate, text, planned.text, report)


def backchannel(kind: BackchannelKind, voice: Voice, *, seed: int) -> Utterance:
    """A short "mm-hmm", "uh-huh", "yeah", "right", "okay" or "sure" in ``voice``, about as long as
    :data:`BACKCHANNELS` says (+-15 %, seeded), 6 dB quieter than the voice's turns. Disfluencies do
    not apply; the emotion does."""
    if kind not in BACKCHANNELS:
        raise ConfigError(f"unknown backchannel {kind!r}; expected one of {', '.join(BACKCHANNELS)}")
    if voice.engine == "recording":
        raise ConfigError("a recording voice has no backchannels: it can only say its own words")
    said, seconds = BACKCHANNELS[kind]
    target = seconds * float(np.random.default_rng(seed).uniform(0.85, 1.15))
    plain = voice.model_copy(update={"disfluency": Disfluency(), "loudness_db": voice.loudness_db + BACKCHANNEL_DB})
    first = speak(said, plain, seed=seed)
    # once more at the rate that brings it to the target length (a duration is near inverse to the rate)
    rate = float(np.clip(plain.own_rate * first.duration_s / target, 0.5, 2.0))
    again = speak(said, plain.model_copy(update={"rate": rate, "wpm": None}), seed=seed)
    return Utterance(again.pcm, again.sample_rate, kind, kind, again.report)


# -- engines ---------------------------------------------------------------------------------------------


class _Engine:
    """One synthesiser, as :func:`speak` uses it: phrases in, float audio (full scale 1.0) and its rate out."""

    has_range: bool
    controls: tuple[str, ...]

    def say(self, texts: list[str], prosody: Prosody, rng: np.random.Generator) -> tuple[list[Audio], int]:
        raise NotImplementedError


class _Espeak(_Engine):
    """espeak-ng in a fresh process per utterance (:mod:`.espeak_worker` says why), one SSML
    ``<prosody rate pitch range>`` document per phrase."""

    has_range = True
    controls = ("rate", "pitch", "pitch_range", "loudness", "pauses")
    WORKER = Path(__file__).with_name("espeak_worker.py")

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            import espeakng_loader  # GPL-3.0+ data and library: only when an espeak voice is selected
        except ImportError:
            raise ConfigError("voice engine 'espeak' needs espeakng-loader: pip install callwright[local]") from None
        self._library = str(espeakng_loader.get_library_path())
        self._data = str(espeakng_loader.get_data_path())

    def say(self, texts: list[str], prosody: Prosody, rng: np.random.Generator) -> tuple[list[Audio], int]:
        documents = [
            f'<speak><prosody rate="{_percent(prosody.rate)}" pitch="{_percent(prosody.pitch)}" '
            f'range="{_percent(prosody.pitch_range)}">{escape(text)}</prosody></speak>'
            for text in texts
        ]
        run = subprocess.run(
            [sys.executable, "-S", "-I", str(self.WORKER), self._library, self._data, self.name],
            input=json.dumps(documents).encode(),
            capture_output=True,
            check=False,
            timeout=60,
        )
        if run.returncode != 0:
            raise EngineError(f"espeak-ng failed: {run.stderr.decode(errors='replace').strip()}", engine="espeak")
        rate, offset, said = struct.unpack_from("<i", run.stdout, 0)[0], 4, []
        for _ in documents:
            size = struct.unpack_from("<i", run.stdout, offset)[0]
            said.append(np.frombuffer(run.stdout, dtype="<i2", count=size // 2, offset=offset + 4) / 32768.0)
            offset += 4 + size
        return said, rate


class _Piper(_Engine):
    has_range = False
    controls = ("rate", "pitch (by resampling: formants move too)", "loudness", "pauses")

    def __init__(self) -> None:
        from ..engines.tts.piper import PiperTts  # GPL-3.0+: loaded only when selected

        self._tts = PiperTts(noise_scale=0.0, noise_w_scale=0.0)

    def say(self, texts: list[str], prosody: Prosody, rng: np.random.Generator) -> tuple[list[Audio], int]:
        import anyio

        from ..engines.base import VoiceStyle

        style = VoiceStyle(rate=prosody.rate, pitch=prosody.pitch)

        async def collect() -> list[Audio]:
            said = []
            for text in texts:
                chunks = [chunk async for chunk in self._tts.synthesize(text, style)]
                said.append(np.concatenate(chunks).astype(np.float64) / 32768.0 if chunks else np.zeros(0))
            return said

        try:
            return anyio.run(collect), self._tts.sample_rate
        except RuntimeError as exc:
            if "running" in str(exc):
                raise ConfigError("speak() blocks: from async code call it through anyio.to_thread.run_sync") from exc
            raise


class _Hibari(_Engine):
    """hibari's own steps (G2P, network, vocoder), with the network's F0 curve scaled in between.

    Uses ``Hibari.phonemize``, ``ids``, ``sess`` and ``hibari.dsp.synth`` of hibari-tts 0.2.x (the
    extra pins it)."""

    has_range = True
    controls = ("rate", "pitch", "pitch_range", "loudness", "pauses")
    VOICED_HZ = 40.0  # hibari's own threshold: frames with a lower F0 are unvoiced

    def __init__(self) -> None:
        try:
            from hibari import Hibari, dsp
        except ImportError:
            raise ConfigError("voice engine 'hibari' needs hibari-tts: pip install callwright[sim-voices]") from None
        self._tts: Any = Hibari(threads=1)
        self._synth: Any = dsp.synth
        self._lock = threading.Lock()  # its G2P keeps state between calls

    def say(self, texts: list[str], prosody: Prosody, rng: np.random.Generator) -> tuple[list[Audio], int]:
        return [self._say(text, prosody, rng) for text in texts], int(self._tts.sample_rate)

    def _say(self, text: str, prosody: Prosody, rng: np.random.Generator) -> Audio:
        parts = []
        speed = np.asarray([prosody.rate], np.float32)
        with self._lock:
            for phonemes in self._tts.phonemize(text):
                ids = np.asarray([self._tts.ids(phonemes)], np.int64)
                lh, th, ln, lr, phi, f0 = (out[0] for out in self._tts.sess.run(None, {"ids": ids, "speed": speed}))
                parts.append(self._synth(lh, th, ln, lr, phi, self._f0(f0, prosody), rng))
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    def _f0(self, f0: Any, prosody: Prosody) -> Any:
        """The pitch curve moved by ``pitch`` and spread by ``pitch_range`` around its median, in log
        frequency (so range 0 is a monotone at the median, and unvoiced frames stay unvoiced)."""
        voiced = f0 >= self.VOICED_HZ
        if not voiced.any() or (prosody.pitch == 1.0 and prosody.pitch_range == 1.0):
            return f0
        median = float(np.median(f0[voiced]))
        moved = f0.copy()
        moved[voiced] = np.maximum(
            median * prosody.pitch * (f0[voiced] / median) ** prosody.pitch_range, self.VOICED_HZ
        )
        return moved


@functools.cache
def _cached_engine(engine: str, name: str) -> _Engine:
    if engine == "espeak":
        return _Espeak(name)
    if engine == "piper":
        return _Piper()
    if engine == "hibari":
        return _Hibari()
    raise ConfigError(f"voice engine {engine!r} does not synthesise")


def _engine(voice: Voice) -> _Engine:
    variant = voice.espeak_variant
    name = voice.info.id + (f"+{variant}" if variant else "")
    return _cached_engine(voice.engine, name if voice.engine == "espeak" else voice.info.id)


# -- steps ------------------------------------------------------------------------------------------------


def _recorded(text: str, voice: Voice, seed: int) -> Utterance:
    recording = find_recording(voice.info.id)
    if text.strip() and _bare(text) != _bare(recording.transcript):
        raise ConfigError(
            f"recording {recording.id!r} says {recording.transcript!r}; a recording can only say its own words"
        )
    pcm, rate = load_recording(recording.id)
    audio = pcm.astype(np.float64) / 32768.0
    levelled, level, limited = _levelled(audio, rate, voice.loudness_db)
    duration = levelled.size / rate
    count = len(words(recording.transcript))
    report = VoiceReport(
        seed=seed, engine="recording", voice=recording.id, variant=None, language=voice.info.language,
        gender=None, emotion="neutral", emotion_strength=0.0, rate=None, pitch=None, pitch_range=None,
        loudness_db=voice.loudness_db, level_dbfs=level, limited_db=limited, duration_s=round(duration, 4),
        pauses_s=0.0, fillers=0, restarts=0, words=count, wpm=round(count / duration * 60.0, 1),
        rendered_as=["loudness"],
    )
    return Utterance(levelled, rate, recording.transcript, recording.transcript, report)


def _trimmed(audio: Audio, sample_rate: int) -> Audio:
    """From the first to the last 10 ms frame within :data:`TRIM_DB` of the loudest, with a 20 ms margin."""
    hop = sample_rate // 100
    frames = audio.size // hop
    if frames == 0:
        return audio
    power = (audio[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1)
    loud = np.flatnonzero(power >= power.max() * 10.0 ** (-TRIM_DB / 10.0))
    if power.max() <= 0.0 or loud.size == 0:
        return np.zeros(0)
    margin = round(TRIM_MARGIN_S * sample_rate)
    return audio[max(0, loud[0] * hop - margin) : min(audio.size, (loud[-1] + 1) * hop + margin)]


def _pause(phrase: Phrase, prosody: Prosody, rng: np.random.Generator) -> float:
    jitter = float(rng.lognormal(0.0, PAUSE_JITTER))  # drawn for every phrase, so the stream does not shift
    if phrase.pause == "none":
        return 0.0
    return PAUSES[phrase.pause] * prosody.pauses * jitter


def _levelled(audio: Audio, sample_rate: int, loudness_db: float) -> tuple[Pcm, float, float]:
    """``audio`` at an active level of ``REFERENCE_DBFS + loudness_db`` as PCM16, turned down as far as
    needed to keep its peak under :data:`PEAK`; with the level reached and that turn-down (dB)."""
    power = active_power(audio, sample_rate)
    if power <= 0.0:
        return np.zeros(audio.size, dtype=np.int16), -200.0, 0.0
    gain = 10.0 ** ((REFERENCE_DBFS + loudness_db - to_db(power)) / 20.0)
    peak = float(np.max(np.abs(audio))) * gain
    limit = min(1.0, PEAK / peak) if peak > 0.0 else 1.0
    scaled = audio * gain * limit
    pcm = np.asarray(np.round(np.clip(scaled, -1.0, 1.0) * 32767.0), dtype=np.int16)
    level = to_db(active_power(pcm.astype(np.float64) / 32767.0, sample_rate))
    return pcm, round(level, 2), round(20.0 * float(np.log10(limit)), 2)


def _percent(factor: float) -> str:
    return f"{round(100.0 * factor)}%"


def _bare(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
