"""Synthetic callers, measured (docs/simulator.md quotes the output): for every voice, how fast it
synthesises (RTF) and how well the default recogniser hears it (WER); for each emotion, how far the
rendered prosody moves from neutral.

    PYTHONPATH=src python benchmarks/voices.py [--quick]

WER: moonshine (the default STT) for English, Whisper base for Spanish and Portuguese, scored with
jiwer after lower-casing and stripping punctuation, over the sentences below (49 English words, so
one word is 2 %). RTF: wall time of ``speak`` over the audio's length, median over the sentences,
after a warm-up, on one thread.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import anyio
import jiwer

from callwright.agent.emotion import measure_prosody
from callwright.engines.stt.moonshine import MoonshineStt
from callwright.engines.stt.whisper import WhisperStt
from callwright.simulate.prosody import EMOTIONS
from callwright.simulate.utterance import speak
from callwright.simulate.voices import Voice, english_accents

ENGLISH = [
    "Hi, I'm calling about my order. It was supposed to arrive on Tuesday, but nothing has shown up yet.",
    "Could you please tell me when the pharmacy closes tonight?",
    "I was charged twice for the same subscription and I would like a refund.",
    "My husband booked the appointment, but he gave them the wrong address.",
]
SPANISH = ["Hola, llamo por mi pedido. Tenía que llegar el martes, pero todavía no ha llegado.", "¿Me puede decir a qué hora cierra la farmacia esta noche?"]
PORTUGUESE = ["Olá, estou ligando sobre o meu pedido. Era para chegar na terça, mas ainda não chegou.", "Pode me dizer a que horas a farmácia fecha hoje à noite?"]
EMOTION_TEXT = "I have been waiting for three weeks and nobody has called me back. This is the third time I am calling about it."


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def measure(voice: Voice, sentences: list[str], stt: object, language: str) -> tuple[float, float]:
    speak(sentences[0], voice, seed=0)  # warm-up: loads the engine
    heard, rtfs = [], []
    for seed, text in enumerate(sentences):
        start = time.perf_counter()
        said = speak(text, voice, seed=seed)
        rtfs.append((time.perf_counter() - start) / said.duration_s)
        result = anyio.run(lambda: stt.transcribe(said.pcm, said.sample_rate, language=language))  # type: ignore[attr-defined]
        heard.append(words(result.text) or "<nothing>")
    return float(jiwer.wer([words(t) for t in sentences], heard)), statistics.median(rtfs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few voices only")
    args = parser.parse_args()
    moonshine = MoonshineStt()
    print("| engine | voice | WER | RTF |\n| --- | --- | ---: | ---: |")
    english = [("hibari", "heart", None), ("piper", "joe", None)]
    english += [("espeak", key, None) for key in english_accents()]
    english += [("espeak", "en-us", "female"), ("espeak", "en-gb-scotland", "female")]
    if args.quick:
        english = english[:3]
    for engine, name, gender in english:
        voice = Voice.model_validate({"engine": engine, "voice": name, "gender": gender})
        wer, rtf = measure(voice, ENGLISH, moonshine, "en")
        label = name + ("+f3" if gender == "female" else "")
        print(f"| {engine} | {label} | {100 * wer:.0f} % | {rtf:.4f} |", flush=True)
    if not args.quick:
        whisper = WhisperStt()
        for name, sentences, language in (("es", SPANISH, "es"), ("es-419", SPANISH, "es"), ("pt", PORTUGUESE, "pt"), ("pt-br", PORTUGUESE, "pt")):
            wer, rtf = measure(Voice(engine="espeak", voice=name), sentences, whisper, language)
            print(f"| espeak | {name} (Whisper base, {language}) | {100 * wer:.0f} % | {rtf:.4f} |", flush=True)

    print("\n| engine | emotion | duration | F0 median | F0 spread (st) | voiced level |\n| --- | --- | ---: | ---: | ---: | ---: |")
    count = len(EMOTION_TEXT.split())
    for engine, name in (("espeak", "en-us"), ("hibari", "heart"), ("piper", "joe")):
        for emotion in EMOTIONS:
            said = speak(EMOTION_TEXT, Voice.model_validate({"engine": engine, "voice": name, "emotion": emotion}), seed=1)
            p = measure_prosody(said.pcm, said.sample_rate, count)
            print(
                f"| {engine} {name} | {emotion} | {said.duration_s:.2f} s | {p.pitch_hz:.0f} Hz | {p.pitch_var:.2f} | "
                f"{p.energy_db:.1f} dBFS |",
                flush=True,
            )


if __name__ == "__main__":
    main()
