"""The simulator: synthetic callers phoning an agent under realistic conditions (issue 9).

So far it holds the callers' voices and the acoustic environments:

- a :class:`Voice` (engine, accent, rate, pitch, loudness, emotion, disfluencies) that a scenario's
  persona embeds, :func:`speak` and :func:`backchannel`, which render a caller's words in it,
  seeded; recordings of people as the "real speech" condition (:func:`recordings`); and hard
  names, numbers and addresses (:class:`FactSpec`, :func:`fact`);
- an :class:`Environment` (noise, bursts, room, channel) and :func:`render`, which puts a caller's
  speech through one, seeded and reproducible.

``docs/simulator.md`` documents the YAML shapes and every voice's and sound's source and licence.
"""

from .acoustics import AcousticReport, BurstEvent, Rendered, render
from .disfluency import Plan, plan
from .environment import Burst, Environment, Noise, Phone, Room, Wideband
from .facts import Fact, FactSpec, fact
from .levels import active_mask, active_power, snr_db
from .prosody import EMOTIONS, Emotion, Prosody
from .recordings import Recording, recordings
from .sounds import SOUNDS, Sound
from .utterance import BACKCHANNELS, Utterance, VoiceReport, backchannel, speak
from .voices import Disfluency, Voice, VoiceInfo, english_accents, espeak_variants, espeak_voices, offered

__all__ = [
    "BACKCHANNELS", "EMOTIONS", "SOUNDS", "AcousticReport", "Burst", "BurstEvent", "Disfluency", "Emotion",
    "Environment", "Fact", "FactSpec", "Noise", "Phone", "Plan", "Prosody", "Recording", "Rendered", "Room", "Sound",
    "Utterance", "Voice", "VoiceInfo", "VoiceReport", "Wideband", "active_mask", "active_power", "backchannel",
    "english_accents", "espeak_variants", "espeak_voices", "fact", "offered", "plan", "recordings", "render",
    "snr_db", "speak",
]
