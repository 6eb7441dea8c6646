"""Synthetic callers: voices, emotion as prosody, disfluencies, backchannels, real speech, hard facts.

The prosody checks measure the audio (``callwright.agent.emotion.measure_prosody``: YIN pitch,
voiced level, words per voiced second), so an emotion that reached no engine control would fail.
Measured once, espeak en-us on a 23-word sentence, neutral to angry: F0 99 -> 119 Hz, voiced level
-25.4 -> -19.2 dBFS, 7.0 -> 8.5 words per voiced second; sad: 89 Hz, -29.3 dBFS, 5.6 words/s, pitch
spread 1.9 -> 0.8 semitones. docs/simulator.md has the table for every engine.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import anyio
import jiwer
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from callwright.agent.emotion import Prosody, measure_prosody
from callwright.engines.stt.moonshine import MoonshineStt
from callwright.errors import ConfigError
from callwright.simulate import (
    BACKCHANNELS,
    Fact,
    FactSpec,
    Voice,
    backchannel,
    english_accents,
    plan,
    recordings,
    speak,
)
from callwright.simulate.facts import FACT_KINDS, cultures, fact

TEXT = "I have been waiting for three weeks and nobody has called me back. This is the third time I am calling about it."
ENGINES = [("espeak", "en-us"), ("hibari", "heart"), ("piper", "joe")]


@pytest.fixture(scope="module", autouse=True)
def _hibari_installed() -> None:
    if importlib.util.find_spec("hibari") is None:
        pytest.fail("hibari-tts is missing: pip install callwright[sim-voices] (make test installs it)", pytrace=False)


def _measured(engine: str, name: str, emotion: str) -> Prosody:
    said = speak(TEXT, Voice.model_validate({"engine": engine, "voice": name, "emotion": emotion}), seed=1)
    return measure_prosody(said.pcm, said.sample_rate, len(TEXT.split()))


# -- determinism -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "name"), ENGINES)
def test_the_same_seed_gives_the_same_audio(engine: str, name: str) -> None:
    voice = Voice.model_validate(
        {"engine": engine, "voice": name, "emotion": "anxious", "disfluency": {"fillers": 10.0, "restarts": 5.0}}
    )
    first, again = speak(TEXT, voice, seed=11), speak(TEXT, voice, seed=11)
    assert np.array_equal(first.pcm, again.pcm) and first.report == again.report
    other = speak(TEXT, voice, seed=12)
    assert other.text_as_spoken != first.text_as_spoken or not np.array_equal(other.pcm, first.pcm)


# -- emotion as prosody ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "name"), ENGINES)
def test_angry_is_faster_higher_and_louder_than_neutral_and_sad_the_opposite(engine: str, name: str) -> None:
    neutral, angry, sad = (_measured(engine, name, emotion) for emotion in ("neutral", "angry", "sad"))
    assert neutral.pitch_hz and angry.pitch_hz and sad.pitch_hz
    assert neutral.rate_wps and angry.rate_wps and sad.rate_wps
    assert angry.pitch_hz > neutral.pitch_hz * 1.12, (neutral, angry)  # asked for 1.25
    assert sad.pitch_hz < neutral.pitch_hz * 0.95, (neutral, sad)  # asked for 0.9
    assert angry.rate_wps > neutral.rate_wps * 1.04, (neutral, angry)  # asked for 1.15
    assert sad.rate_wps < neutral.rate_wps * 0.92, (neutral, sad)  # asked for 0.85
    assert angry.energy_db > neutral.energy_db + 1.5, (neutral, angry)  # asked for +6 dB; hibari's peaks limit it
    assert sad.energy_db < neutral.energy_db - 3.0, (neutral, sad)  # asked for -4 dB


@pytest.mark.parametrize(("engine", "name"), [("espeak", "en-us"), ("hibari", "heart")])
def test_a_sad_voice_has_a_narrower_pitch_range(engine: str, name: str) -> None:
    neutral, sad = _measured(engine, name, "neutral"), _measured(engine, name, "sad")
    assert sad.pitch_var < neutral.pitch_var * 0.75, (neutral, sad)  # range asked for 0.5


def test_the_report_says_what_was_applied() -> None:
    said = speak(TEXT, Voice(engine="espeak", emotion="angry", loudness_db=-3.0), seed=1)
    report = said.report
    assert (report.rate, report.pitch, report.pitch_range) == pytest.approx((1.15, 1.25, 1.6))
    assert report.loudness_db == pytest.approx(3.0) and report.level_dbfs == pytest.approx(-23.0, abs=0.3)
    assert report.words == 23 and report.duration_s == pytest.approx(said.duration_s, abs=1e-3)
    piper = speak("Hello there.", Voice(engine="piper", emotion="sad"), seed=1).report
    assert piper.pitch_range is None and "pitch_range" not in piper.rendered_as  # Piper has no range control


def test_emotion_strength_scales_the_change() -> None:
    half = Voice(engine="espeak", emotion="angry", emotion_strength=0.5).prosody
    assert half.pitch == pytest.approx(1.25**0.5) and half.loudness_db == pytest.approx(3.0)
    assert Voice(engine="espeak", emotion="angry", emotion_strength=0.0).prosody.pitch == 1.0


# -- disfluencies ------------------------------------------------------------------------------------------


def test_disfluencies_appear_at_the_requested_rate() -> None:
    text = " ".join([TEXT] * 3)  # 69 words
    count = len(text.split())
    fillers, restarts, at_starts = [], [], 0
    for seed in range(600):
        planned = plan(text, 6.0, 2.0, np.random.default_rng(seed))
        fillers.append(planned.fillers)
        restarts.append(planned.restarts)
        assert len(re.findall(r"\b[Uu](?:m|h),", planned.text)) == planned.fillers
        first = planned.phrases[0]
        at_starts += first.filler
    assert np.mean(fillers) == pytest.approx(6.0 * count / 100, rel=0.08)
    assert np.mean(restarts) == pytest.approx(2.0 * count / 100, rel=0.12)
    assert at_starts / 600 > 0.12  # the first word is favoured three to one: 0.18 expected, 0.06 if not


def test_disfluent_speech_keeps_the_intended_text() -> None:
    voice = Voice.model_validate({"engine": "espeak", "disfluency": {"fillers": 15.0, "restarts": 8.0}})
    said = speak(TEXT, voice, seed=5)
    assert said.text == TEXT and said.text_as_spoken != TEXT
    assert said.report.fillers + said.report.restarts > 0
    spoken = said.text_as_spoken.split()
    assert len(spoken) == len(TEXT.split()) + said.report.fillers + said.report.restarts
    fluent = speak(TEXT, Voice(engine="espeak"), seed=5)
    assert said.duration_s > fluent.duration_s  # fillers and restarts take time


# -- voices and languages ----------------------------------------------------------------------------------


def test_every_english_accent_and_spanish_and_portuguese_synthesise() -> None:
    accents = english_accents()
    assert {"en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc"} <= set(accents)
    lines = {key: "Where is my order?" for key in accents}
    lines |= {"es": "¿Dónde está mi pedido?", "es-419": "¿Dónde está mi pedido?"}
    lines |= {"pt": "Onde está a minha encomenda?", "pt-br": "Onde está o meu pedido?"}
    for key, line in lines.items():
        said = speak(line, Voice(engine="espeak", voice=key), seed=0)
        assert 0.6 < said.duration_s < 3.0, (key, said.duration_s)
        assert said.report.level_dbfs == pytest.approx(-26.0, abs=0.3), key
    assert Voice(engine="espeak", voice="pt-br").info.name == "Portuguese (Brazil)"
    assert Voice(engine="espeak", voice="en-gb").info.id == "en"  # a language code finds its voice


def test_a_female_espeak_caller_is_higher() -> None:
    male = speak("Where is my order?", Voice(engine="espeak"), seed=0)
    female = speak("Where is my order?", Voice(engine="espeak", gender="female"), seed=0)
    male_f0, female_f0 = (measure_prosody(s.pcm, s.sample_rate).pitch_hz for s in (male, female))
    assert male_f0 and female_f0 and female_f0 > male_f0 * 1.6
    assert female.report.variant == "f3" and female.report.gender == "female"


def test_an_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match=r"unknown espeak voice 'en-ie'.*en-gb-scotland"):
        Voice(engine="espeak", voice="en-ie")
    with pytest.raises(ValidationError, match=r"did you mean 'en-gb-scotland'"):
        Voice(engine="espeak", voice="en-gb-scotlnd")
    with pytest.raises(ValidationError, match=r"unknown piper voice 'amy'.*Expected one of: joe"):
        Voice(engine="piper", voice="amy")
    with pytest.raises(ValidationError, match="downloads from the internet"):
        Voice(engine="hibari", voice="emma")
    with pytest.raises(ValidationError, match="'kokoro' is not offered"):
        Voice.model_validate({"engine": "kokoro"})
    with pytest.raises(ValidationError, match="does not match piper voice 'joe'"):
        Voice(engine="piper", gender="female")
    with pytest.raises(ValidationError, match="unknown espeak variant 'f9'"):
        Voice(engine="espeak", variant="f9")
    with pytest.raises(ValidationError, match="played as recorded: emotion"):
        Voice(engine="recording", voice="beckett", emotion="angry")
    with pytest.raises(ValidationError, match="rate or wpm"):
        Voice(engine="espeak", rate=1.2, wpm=200.0)


def test_wpm_sets_the_pace() -> None:
    slow = speak(TEXT, Voice(engine="espeak", wpm=130.0), seed=0)
    fast = speak(TEXT, Voice(engine="espeak", wpm=230.0), seed=0)
    assert fast.report.wpm > slow.report.wpm * 1.4, (slow.report.wpm, fast.report.wpm)


def test_synthetic_voices_are_intelligible_to_the_default_recogniser() -> None:
    """Moonshine on three sentences (33 words) per voice. Measured when written: hibari heart 0 %,
    Piper joe 0 %, espeak en-gb-scotland 3 % (one word)."""
    sentences = [
        "Could you please tell me when the pharmacy closes tonight?",
        "I was charged twice for the same subscription and I would like a refund.",
        "My husband booked the appointment, but he gave them the wrong address.",
    ]
    stt = MoonshineStt()

    def words(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split()) or "<nothing>"

    for engine, name, bound in (("hibari", "heart", 0.07), ("piper", "joe", 0.07), ("espeak", "en-gb-scotland", 0.15)):
        voice = Voice.model_validate({"engine": engine, "voice": name})
        heard = []
        for seed, text in enumerate(sentences):
            said = speak(text, voice, seed=seed)
            heard.append(words(anyio.run(stt.transcribe, said.pcm, said.sample_rate).text))
        wer = jiwer.wer([words(s) for s in sentences], heard)
        assert wer <= bound, (engine, wer, heard)


# -- backchannels -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "name"), ENGINES)
def test_backchannels_are_short_and_quiet(engine: str, name: str) -> None:
    voice = Voice.model_validate({"engine": engine, "voice": name, "disfluency": {"fillers": 30.0}})
    for seed, kind in enumerate(BACKCHANNELS):
        said = backchannel(kind, voice, seed=seed)  # type: ignore[arg-type]
        target = BACKCHANNELS[kind][1]
        assert target * 0.7 < said.duration_s < target * 1.3, (kind, said.duration_s)
        assert said.text_as_spoken == kind and said.report.fillers == 0
        assert said.report.level_dbfs == pytest.approx(-32.0, abs=0.5)
    with pytest.raises(ConfigError, match="unknown backchannel"):
        backchannel("uh-oh", voice, seed=0)  # type: ignore[arg-type]


# -- real speech ---------------------------------------------------------------------------------------------


def test_recordings_of_people_come_with_their_transcripts() -> None:
    found = recordings()
    assert len(found) == 13 and {"beckett", "goforward", "librivox-0880", "cards-004"} <= set(found)
    for key, recording in found.items():
        said = speak("", Voice(engine="recording", voice=key), seed=0)
        words_per_second = len(recording.transcript.split()) / said.duration_s
        assert said.text == recording.transcript and 0.8 < words_per_second < 5.0, (key, words_per_second)
        assert said.sample_rate == 16000 and said.report.level_dbfs == pytest.approx(-26.0, abs=0.3)
    assert speak("He was not an ill-disposed young man.", Voice(engine="recording", voice="librivox-0880"), seed=0)
    with pytest.raises(ConfigError, match="can only say its own words"):
        speak("Where is my order?", Voice(engine="recording", voice="beckett"), seed=0)
    with pytest.raises(ValidationError, match="unknown recording voice 'librivox-9999'"):
        Voice(engine="recording", voice="librivox-9999")


# -- hard facts ------------------------------------------------------------------------------------------


def test_hard_facts_are_seeded_and_say_how_to_write_them() -> None:
    for kind in FACT_KINDS:
        for hard in (False, True):
            drawn = [fact(kind, seed=seed, hard=hard) for seed in range(40)]
            assert drawn == [fact(kind, seed=seed, hard=hard) for seed in range(40)]
            assert len({f.written for f in drawn}) > 3, kind
            assert all(f.hard == hard and (f.why != "") == hard for f in drawn)
    spec = FactSpec.model_validate({"kind": "address", "hard": True, "culture": "pt-br"})
    address = spec.draw(3)
    assert address.language == "pt-br" and "São Paulo" in address.written and address.written[0].isalpha()
    name = fact("name", seed=0, hard=True, culture="ie")
    assert name.written != name.spoken and name.spelled.replace(" ", "").isalpha()
    phone = fact("phone", seed=1, hard=True, culture="gb")
    assert phone.written.startswith("+44") and ("double" in phone.spoken or "oh" in phone.spoken)
    assert set(cultures("name", True)) >= {"ie", "gb", "pl", "vn", "ng", "es", "pt-br"}
    with pytest.raises(ValueError, match="cultures:"):
        fact("phone", seed=0, hard=True, culture="us")


def test_a_hard_fact_can_be_spoken() -> None:
    drawn: Fact = fact("address", seed=2, hard=True, culture="gb")
    said = speak(drawn.spoken, Voice(engine="espeak", voice="en-gb"), seed=0)
    assert said.text == drawn.spoken and said.duration_s > 1.0


# -- docs ----------------------------------------------------------------------------------------------------


def test_the_docs_show_a_valid_voice_and_every_accent_and_recording() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()
    block = re.search(r"```yaml\n(persona:.*?)```", docs, re.S)
    assert block is not None, "docs/simulator.md has no ```yaml persona: example"
    voice = Voice.model_validate(yaml.safe_load(block.group(1))["persona"]["voice"])
    assert voice.info.id == "en-gb-scotland" and voice.espeak_variant == "f3"
    cells = {cell.strip() for line in docs.splitlines() if line.startswith("| ") for cell in line.split("|")}
    for key in english_accents():
        assert any(cell.startswith(f"`{key}`") for cell in cells), f"docs/simulator.md: no row for accent {key!r}"
    for key in recordings():
        assert key in docs or key.split("-")[0] in docs, f"docs/simulator.md: recording {key!r} not listed"
