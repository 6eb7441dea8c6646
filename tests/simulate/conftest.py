"""Recorded human speech for the acoustic tests: Debian's pocketsphinx-testdata (BSD-2; the LibriVox
reading is public domain), which .ci/run installs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from callwright.audio.pcm import Pcm
from callwright.audio.wav import read_wav

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def librivox() -> list[tuple[str, Pcm]]:
    """(what was said, 16 kHz audio) for the five LibriVox sentences."""
    if not LIBRIVOX.is_dir():
        pytest.fail(f"{LIBRIVOX} is missing: apt-get install pocketsphinx-testdata", pytrace=False)
    spoken = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        said = re.fullmatch(r"<s>(.*)</s> \((.*)\)", line.strip())
        assert said is not None, line
        audio, rate = read_wav(LIBRIVOX / f"{said.group(2)}.wav")
        assert rate == 16000
        spoken.append((" ".join(said.group(1).split()), audio))
    return spoken


@pytest.fixture(scope="session")
def speech() -> Pcm:
    """About 7 s of one reader, at 16 kHz."""
    return librivox()[0][1]


@pytest.fixture(scope="session")
def long_speech(speech: Pcm) -> Pcm:
    """Ten minutes of the same reader (her five sentences over and over), at 16 kHz."""
    sentences = np.concatenate([audio for _, audio in librivox()])
    return np.tile(sentences, -(-600 * 16000 // sentences.size))[: 600 * 16000]
