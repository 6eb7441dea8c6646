"""Harsh conditions hurt the default recogniser, light ones hardly do: moonshine (the default STT) on
a recording of a person, through three environments, three seeds each.

The recording is the one in the moonshine-cpp wheel (MIT; Beckett's words), not a pocketsphinx one:
those make up the babble, and a recogniser hearing its own sentence in the babble would prove little.
Measured once: clean 0/12 words wrong on every seed; light (traffic at 20 dB in a small room, on the
wideband line) 0/12; harsh (babble at 0 dB, then a phone line losing 10 % of its packets in bursts
of 3) every word lost on every seed, moonshine giving up and returning nothing.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import anyio
import jiwer
import pytest

from callwright.audio.wav import read_wav
from callwright.engines.stt.moonshine import MoonshineStt
from callwright.simulate import Environment, render

SAID = "ever tried ever failed no matter try again fail again fail better"
ENVIRONMENTS = {
    "clean": Environment(),
    "light": Environment.model_validate(
        {"noise": {"kind": "traffic", "snr_db": 20}, "room": {"rt60": 0.3, "distance": 0.5}}
    ),
    "harsh": Environment.model_validate(
        {
            "noise": {"kind": "babble", "snr_db": 0},
            "channel": {"kind": "phone", "loss_rate": 0.1, "loss_burst": 3, "concealment": "repeat"},
        }
    ),
}


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split()) or "<nothing>"


@pytest.fixture(scope="module")
def word_error_rates() -> dict[str, float]:
    spec = importlib.util.find_spec("moonshine_cpp")
    assert spec is not None and spec.submodule_search_locations, "install callwright[local]"
    audio, rate = read_wav(Path(spec.submodule_search_locations[0]) / "test-data" / "beckett.wav")
    stt = MoonshineStt()

    async def heard(environment: Environment, seed: int) -> str:
        out = render(audio, rate, environment, seed=seed)
        return (await stt.transcribe(out.audio, out.sample_rate)).text

    async def measure() -> dict[str, float]:
        rates = {}
        for name, environment in ENVIRONMENTS.items():
            texts = [await heard(environment, seed) for seed in (1, 2, 3)]
            rates[name] = float(jiwer.wer([SAID] * len(texts), [_words(text) for text in texts]))
        return rates

    return anyio.run(measure)


def test_light_conditions_barely_move_the_recogniser(word_error_rates: dict[str, float]) -> None:
    assert word_error_rates["clean"] <= 1 / 36, word_error_rates  # at most one word in 36
    assert word_error_rates["light"] <= word_error_rates["clean"] + 2 / 36, word_error_rates


def test_harsh_conditions_hurt(word_error_rates: dict[str, float]) -> None:
    assert word_error_rates["harsh"] >= 0.5, word_error_rates
    assert word_error_rates["harsh"] >= word_error_rates["light"] + 0.4, word_error_rates
