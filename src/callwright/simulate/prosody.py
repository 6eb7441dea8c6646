"""Emotion as prosody: how an angry, anxious, sad, happy or tired caller differs from a calm one.

No engine that installs offline here has an emotion control (``../shared/research/caller-material.md``
§2), so an emotion is rendered as the prosodic changes that listeners hear in emotional speech:
speaking rate, mean pitch, pitch range, loudness and the length of pauses, plus more restarts for
an anxious caller. :data:`EMOTIONS` holds the factors; ``docs/simulator.md`` shows them as a table.

**What the table rests on.** The *directions* come from the literature on vocal emotion:

- Murray & Arnott (1993), "Toward the simulation of emotion in synthetic speech: a review of the
  literature on human vocal emotion", JASA 93(2), Table I: anger slightly faster, pitch very much
  higher, range much wider, intensity higher; happiness pitch much higher, range much wider,
  intensity higher; sadness slightly slower, pitch slightly lower, range slightly narrower,
  intensity lower; fear (our *anxious*) much faster, pitch very much higher, range much wider,
  intensity normal.
- Juslin & Laukka (2003), "Communication of emotions in vocal expression and music performance",
  Psychological Bulletin 129(5): the same directions across 104 studies for anger, fear, happiness
  and sadness (fast/slow rate, high/low F0 and intensity, more/less F0 variability).
- *Tired* is not one of the basic emotions of those reviews. It is rendered as low activation
  (Schröder 2004, the activation dimension of his emotion-to-prosody rules for MARY TTS: lower
  activation, slower, lower and flatter pitch, softer, longer pauses), the pattern reported for
  sleepy speakers (Krajewski et al. 2009, "Acoustic sleepiness detection", Behavior Research
  Methods 41(3)).
- Anxiety raises restarts and repetitions more than "ah/um" fillers (Mahl 1956, "Disturbances and
  silences in the patient's speech in psychotherapy"; Kasl & Mahl 1965): *anxious* adds restarts.

The *sizes* are ours: chosen moderate (a stressed caller, not an actor's portrayal), and within
what caller-material.md measured espeak-ng to do on SSML (angry: rate 130 %, pitch +30 % gave F0
101 -> 128 Hz and 3.67 -> 2.95 s). ``strength`` scales them: factors are raised to its power and
decibels multiplied by it, so ``strength: 0`` is neutral and ``2`` twice as far (in log terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Emotion = Literal["neutral", "angry", "anxious", "sad", "happy", "tired"]

REFERENCE_DBFS = -26.0  # active speech level of a voice at loudness_db 0 (ITU-T P.56's usual level)


@dataclass(frozen=True)
class Prosody:
    """Factors relative to the voice's own way of speaking (1.0 and 0 dB: unchanged)."""

    rate: float = 1.0  # speaking rate: 1.2 says the same words in 1/1.2 the time
    pitch: float = 1.0  # mean fundamental frequency
    pitch_range: float = 1.0  # spread of the pitch around its mean (0: monotone)
    loudness_db: float = 0.0  # active level
    pauses: float = 1.0  # length of the silent pauses between phrases and after fillers
    restarts_per_100: float = 0.0  # added to the voice's own restarts (repeated words), per 100 words

    def scaled(self, strength: float) -> Prosody:
        """This emotion ``strength`` times as strong: factors to that power, decibels and counts times it."""
        return Prosody(
            rate=self.rate**strength,
            pitch=self.pitch**strength,
            pitch_range=self.pitch_range**strength,
            loudness_db=self.loudness_db * strength,
            pauses=self.pauses**strength,
            restarts_per_100=self.restarts_per_100 * strength,
        )

    def then(self, other: Prosody) -> Prosody:
        """Both changes at once: factors multiplied, decibels and counts added."""
        return Prosody(
            rate=self.rate * other.rate,
            pitch=self.pitch * other.pitch,
            pitch_range=self.pitch_range * other.pitch_range,
            loudness_db=self.loudness_db + other.loudness_db,
            pauses=self.pauses * other.pauses,
            restarts_per_100=self.restarts_per_100 + other.restarts_per_100,
        )


EMOTIONS: dict[str, Prosody] = {
    "neutral": Prosody(),
    "angry": Prosody(rate=1.15, pitch=1.25, pitch_range=1.6, loudness_db=6.0, pauses=0.6),
    "anxious": Prosody(rate=1.2, pitch=1.2, pitch_range=1.4, loudness_db=0.0, pauses=1.0, restarts_per_100=2.0),
    "sad": Prosody(rate=0.85, pitch=0.9, pitch_range=0.5, loudness_db=-4.0, pauses=1.5),
    "happy": Prosody(rate=1.08, pitch=1.15, pitch_range=1.5, loudness_db=3.0, pauses=0.9),
    "tired": Prosody(rate=0.8, pitch=0.92, pitch_range=0.6, loudness_db=-5.0, pauses=1.8),
}

# Silent pauses, in seconds at ``pauses`` 1.0, before the emotion's factor and a seeded jitter
# (log-normal, sigma PAUSE_JITTER). Chosen in the bands Campione & Véronis (2002, "A large-scale
# multilingual study of silent pause duration") found for read and spontaneous speech: brief
# (under 0.2 s) within a phrase, medium (0.2-1 s) between phrases and sentences. After "um" the
# pause is longer than after "uh" (Clark & Fox Tree 2002, "Using uh and um in spontaneous speaking").
PAUSES: dict[str, float] = {"clause": 0.18, "sentence": 0.4, "um": 0.3, "uh": 0.15, "restart": 0.12}
PAUSE_JITTER = 0.25
