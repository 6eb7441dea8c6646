"""How long the per-turn text and voice analysis takes: speakable() per sentence, measure_prosody per 5 s.

Wall-clock speed does not belong in the unit tests (a shared 2-core CI box makes any threshold
flaky), so it is measured here, with one command:

    .venv/bin/python benchmarks/per_turn_text.py [--rounds 300]

It prints one JSON object. The budgets it reports against are the ones the unit tests used to
assert: speakable under 2 ms a sentence (a TTS request takes hundreds), and measure_prosody under
30 ms for 5 s of speech (it runs once per caller turn, off the audio path). Exit status 1 when a
budget is exceeded, so it can gate a release run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import anyio
import numpy as np
import soxr

from callwright.agent.emotion import measure_prosody
from callwright.agent.shaping import speakable
from callwright.engines.tts.espeak import EspeakTts

SENTENCES = [
    "Your order #A12345 for $20.50 ships 2026-11-25 at 3:30 PM; call (415) 555-0123 with questions.",
    "We are open from eight in the morning until eight at night, every day of the week.",
    "That's 15% off the 1,250 items in stock, on the 21st.",
    "A 5 km delivery radius, a $5k budget, 24/7 support and/or a 2 kg bag by 11/25.",
]
SPEAKABLE_BUDGET_S = 0.002
PROSODY_BUDGET_S = 0.030


def best_of(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="passes over the sentences")
    args = parser.parse_args()

    for sentence in SENTENCES:
        speakable(sentence)  # compile the patterns
    start = time.perf_counter()
    for _ in range(args.rounds):
        for sentence in SENTENCES:
            speakable(sentence)
    per_sentence = (time.perf_counter() - start) / (args.rounds * len(SENTENCES))

    async def render() -> np.ndarray:
        tts = EspeakTts()
        return np.concatenate([c async for c in tts.synthesize("Hello, I would like to check the status of my order.")])

    speech = soxr.resample(anyio.run(render), 22050, 16000)
    clip = np.tile(speech, 5)[: 5 * 16000]
    prosody = best_of(lambda: measure_prosody(clip, 16000, words=20), 5)

    result = {
        "speakable_ms_per_sentence": round(per_sentence * 1000, 3),
        "speakable_budget_ms": SPEAKABLE_BUDGET_S * 1000,
        "measure_prosody_ms_per_5s": round(prosody * 1000, 2),
        "measure_prosody_budget_ms": PROSODY_BUDGET_S * 1000,
    }
    print(json.dumps(result))
    return 0 if per_sentence < SPEAKABLE_BUDGET_S and prosody < PROSODY_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
