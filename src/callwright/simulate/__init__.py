"""The simulator: synthetic callers phoning an agent under realistic conditions (issue 9).

So far it holds the acoustic environments: an :class:`Environment` (noise, bursts, room, channel)
that a scenario embeds, and :func:`render`, which puts a caller's speech through one, seeded and
reproducible. ``docs/simulator.md`` documents the YAML shape and every sound's source and licence.
"""

from .acoustics import AcousticReport, BurstEvent, Rendered, render
from .environment import Burst, Environment, Noise, Phone, Room, Wideband
from .levels import active_mask, active_power, snr_db
from .sounds import SOUNDS, Sound

__all__ = [
    "SOUNDS", "AcousticReport", "Burst", "BurstEvent", "Environment", "Noise", "Phone", "Rendered", "Room", "Sound",
    "Wideband", "active_mask", "active_power", "render", "snr_db",
]
