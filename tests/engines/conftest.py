"""Real embedded engines, loaded once per test session, and speech synthesised with them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import anyio
import jiwer
import numpy as np
import pytest

from callwright.engines.base import Pcm, TextToSpeech
from callwright.engines.stt.moonshine import MoonshineStt
from callwright.engines.stt.whisper import WhisperStt
from callwright.engines.tts.espeak import EspeakTts
from callwright.engines.tts.piper import PiperTts

SENTENCES = (
    "Hello, I would like to check the status of my order.",
    "I was charged twice for the same subscription.",
    "Can you transfer me to a real person, please?",
)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    return float(jiwer.wer([_normalise(r) for r in references], [_normalise(h) for h in hypotheses]))


@pytest.fixture(scope="session")
def wer() -> Callable[[Sequence[str], Sequence[str]], float]:
    """Word error rate over a set of utterances, after lowercasing and stripping punctuation."""
    return _word_error_rate


def _synthesize(tts: TextToSpeech, text: str) -> Pcm:
    async def run() -> Pcm:
        return np.concatenate([chunk async for chunk in tts.synthesize(text)])

    return anyio.run(run)


@pytest.fixture(scope="session")
def piper() -> PiperTts:
    return PiperTts()


@pytest.fixture(scope="session")
def espeak() -> EspeakTts:
    return EspeakTts()


@pytest.fixture(scope="session")
def moonshine() -> MoonshineStt:
    return MoonshineStt()


@pytest.fixture(scope="session")
def whisper() -> WhisperStt:
    return WhisperStt()


@pytest.fixture(scope="session")
def piper_speech(piper: PiperTts) -> dict[str, Pcm]:
    """Each of :data:`SENTENCES` spoken by Piper, at ``piper.sample_rate`` (22,050 Hz)."""
    return {text: _synthesize(piper, text) for text in SENTENCES}


@pytest.fixture(scope="session")
def espeak_speech(espeak: EspeakTts) -> dict[str, Pcm]:
    """Each of :data:`SENTENCES` spoken by espeak-ng en-us, at ``espeak.sample_rate`` (22,050 Hz)."""
    return {text: _synthesize(espeak, text) for text in SENTENCES}
