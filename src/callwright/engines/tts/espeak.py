"""espeak-ng formant synthesis through ``espeakng-loader``'s bundled libespeak-ng (ctypes).

No system package is needed: the wheel carries libespeak-ng 1.52 and its data. espeak-ng is
GPL-3.0+; the library is loaded only when this engine is first used. Robotic, but about a thousand
times faster than real time, with many languages, accents (``en-us``, ``en-gb-scotland``,
``en-029`` ...) and variants (``en-us+f3``, ``+m2``, ``+croak`` ...): good for synthetic callers.

libespeak-ng keeps its voice and settings in process-global state, so one lock serialises every
use of it in the process.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from ...clock import offload
from ...errors import ConfigError, EngineError
from ..base import Pcm, VoiceStyle

DEFAULT_VOICE = "en-us"
DEFAULT_RATE_WPM = 175  # espeak's own default speed; VoiceStyle.rate 1.0
DEFAULT_PITCH = 50  # espeak's base pitch scale, 0..99; VoiceStyle.pitch 1.0

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_BUFFER_MS = 100  # espeak hands audio to the callback in pieces of about this length
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3  # espeak_PARAMETER
_EE_OK = 0
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Library:
    """The process's one libespeak-ng, initialised once in synchronous mode."""

    _instance: _Library | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise ConfigError("tts engine 'espeak' needs espeakng-loader: install callwright[local]") from exc
        self.lock = threading.Lock()
        self._lib: Any = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_SetSynthCallback.argtypes = (_CALLBACK,)
        self._lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        self._lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self._lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self._lib.espeak_SetParameter.restype = ctypes.c_int
        self._lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        self._lib.espeak_Synth.restype = ctypes.c_int
        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path, 0)
        if rate <= 0:
            raise EngineError(f"espeak-ng did not initialise (data at {data_path.decode()})", engine="espeak")
        self.sample_rate: int = rate
        self._pieces: list[Pcm] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library calls it later
        self._lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> _Library:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.int16))
        return 0  # 0: go on

    def synthesize(self, text: str, voice: str, rate_wpm: int, pitch: int) -> list[Pcm]:
        """Synthesise ``text`` whole; returns the pieces in the order espeak produced them."""
        encoded = text.encode("utf-8") + b"\0"
        with self.lock:
            status = self._lib.espeak_SetVoiceByName(voice.encode())
            if status != _EE_OK:
                raise EngineError(
                    f"espeak has no voice {voice!r} (try 'en-us', 'en-gb-scotland', 'en-us+f3')", engine="espeak"
                )
            self._lib.espeak_SetParameter(_RATE, min(max(rate_wpm, 80), 450), 0)
            self._lib.espeak_SetParameter(_PITCH, min(max(pitch, 0), 99), 0)
            self._pieces = []
            try:
                status = self._lib.espeak_Synth(encoded, len(encoded), 0, 0, 0, _CHARS_UTF8, None, None)
                pieces = self._pieces
            finally:
                self._pieces = []
        if status != _EE_OK:
            raise EngineError(f"espeak_Synth failed with status {status}", engine="espeak")
        return pieces


def speak(
    text: str, *, voice: str = DEFAULT_VOICE, rate_wpm: int = DEFAULT_RATE_WPM, pitch: int = DEFAULT_PITCH
) -> tuple[Pcm, int]:
    """Synthesise ``text`` at once: (mono int16 audio, sample rate). Blocks; a sentence takes ~1 ms.

    ``rate_wpm`` is words per minute (80-450), ``pitch`` espeak's 0-99 base pitch (50 is normal).
    """
    library = _Library.get()
    pieces = library.synthesize(text, voice, rate_wpm, pitch)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    return audio, library.sample_rate


class EspeakTts:
    """espeak-ng as a :class:`~callwright.engines.base.TextToSpeech`.

    ``VoiceStyle.voice`` overrides the engine's voice; ``rate`` scales 175 words per minute and
    ``pitch`` scales espeak's base pitch 50 (both clamped to espeak's ranges). The sentence is
    synthesised whole in a worker thread (it takes a millisecond or so), then streamed in ~100 ms
    chunks. Unlike the neural engines, a cancelled synthesis is not abandoned: the cancellation
    waits for that millisecond, so nothing is left running (and there is no ``busy``).
    """

    name = "espeak"

    def __init__(self, voice: str = DEFAULT_VOICE) -> None:
        self.voice = voice
        self._library = _Library.get()
        self.sample_rate = self._library.sample_rate

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        style = style or VoiceStyle()
        if not text.strip():
            return
        pieces = await offload(
            self._library.synthesize,
            text,
            style.voice or self.voice,
            round(DEFAULT_RATE_WPM * style.rate),
            round(DEFAULT_PITCH * style.pitch),
        )
        for piece in pieces:
            yield piece
