"""Metrics of a simulated call: how well the agent heard, and how long the caller waited.

* **WER** per caller utterance: the words the caller meant (``Utterance.text``, without the "um"s
  a disfluent voice adds) against the words the agent's recogniser wrote, both through Whisper's
  English normaliser (``whisper-normalizer``, MIT: numbers as digits, spellings made one, fillers
  and punctuation dropped), scored by ``jiwer``. A turn the recogniser missed entirely is a WER of 1.
* **Voice-to-voice latency** as the caller hears it: from the end of the caller's last voiced
  sample to the first sample of the agent's reply reaching the caller, on the call's clock.
  Percentiles are nearest-rank over the call's (or the suite's) turns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import Any


@cache
def _normaliser() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalised(text: str) -> str:
    return " ".join(str(_normaliser()(text)).split())


def wer(meant: str, heard: str) -> float:
    """Word error rate of ``heard`` against ``meant`` (0 for two empty texts, 1 for nothing heard)."""
    import jiwer

    reference, hypothesis = normalised(meant), normalised(heard)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    if not hypothesis:
        return 1.0
    return float(jiwer.wer(reference, hypothesis))


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (50: the median), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | None]:
    return {f"p{p}": percentile(values_ms, p) for p in (50, 90, 95, 99)}
