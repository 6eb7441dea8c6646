"""Room reverberation: a shoebox room impulse response from pyroomacoustics (MIT), convolved with speech.

pyroomacoustics' hybrid method is used: image sources up to order 3 for the early reflections, ray
tracing for the diffuse tail. It is 10-45 times faster than image sources alone (0.1 s against 1.7 s
for RT60 0.6 s, 0.2 s against 8.8 s for 1.0 s, measured here) and as close to the requested RT60.
The ray tracer draws random numbers from pyroomacoustics' own module-wide generators; they are
seeded from the render's seed, under a lock, right before each impulse response is computed, so the
same seed gives the same room.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .environment import Room
from .levels import Audio, active_power

RATE = 16000
MOUTH_HEIGHT = 1.5  # metres
CLEARANCE = 0.5  # metres between the caller or the microphone and any wall
_PYROOMACOUSTICS = threading.Lock()


@dataclass(frozen=True)
class Placement:
    """Where the caller's mouth and the microphone stood, in metres from a corner, and what came of it."""

    mouth: tuple[float, float, float]
    microphone: tuple[float, float, float]
    rt60_measured: float


def impulse_response(room: Room, rng: np.random.Generator) -> tuple[Audio, Placement]:
    """The room impulse response from the caller's mouth to the microphone ``room.distance`` away, at
    16 kHz, starting at the direct sound (so the speech keeps its timing), and where both stood."""
    pra = _pyroomacoustics()
    mouth, microphone = _place(room, rng)
    absorption, _ = pra.inverse_sabine(room.rt60, room.size)
    with _PYROOMACOUSTICS:
        pra.random.seed(numpy=int(rng.integers(2**63)), libroom=int(rng.integers(2**63)))
        shoebox = pra.ShoeBox(
            room.size, fs=RATE, materials=pra.Material(absorption), max_order=3, ray_tracing=True, air_absorption=True
        )
        shoebox.set_ray_tracing(receiver_radius=0.5, n_rays=5000, energy_thres=1e-5)
        shoebox.add_source(list(mouth))
        shoebox.add_microphone(list(microphone))
        shoebox.compute_rir()
        response = np.asarray(shoebox.rir[0][0], dtype=np.float64)
    direct = int(np.argmax(np.abs(response)))
    response = response[max(0, direct - pra.constants.get("frac_delay_length") // 2) :]
    rt60 = float(pra.experimental.measure_rt60(response, fs=RATE, decay_db=30))
    return response, Placement(mouth, microphone, rt60)


def reverberate(speech: Audio, response: Audio) -> Audio:
    """``speech`` heard through ``response``: as long as the speech (the tail past its end is cut, so
    a scripted moment stays at its time), and at the speech's own active level (the room changes how
    the caller sounds, not how loud they are)."""
    from scipy.signal import fftconvolve

    wet = np.asarray(fftconvolve(speech, response)[: speech.size], dtype=np.float64)
    dry_power, wet_power = active_power(speech, RATE), active_power(wet, RATE)
    return wet * np.sqrt(dry_power / wet_power) if wet_power > 0.0 else wet


def _place(room: Room, rng: np.random.Generator) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The microphone at a random spot at least :data:`CLEARANCE` from the walls, the mouth
    ``room.distance`` from it, in a random direction that keeps it clear of the walls too (the
    room's validation guarantees that the centre of the room always has one)."""
    width, depth, height = room.size
    low, high = np.array([CLEARANCE, CLEARANCE]), np.array([width - CLEARANCE, depth - CLEARANCE])
    for attempt in range(200):
        microphone = rng.uniform(low, high) if attempt < 100 else np.array([width / 2.0, depth / 2.0])
        angle = rng.uniform(0.0, 2.0 * np.pi)
        mouth = microphone + room.distance * np.array([np.cos(angle), np.sin(angle)])
        if np.all(mouth >= low) and np.all(mouth <= high):
            level = min(MOUTH_HEIGHT, height - CLEARANCE)  # the microphone at mouth height: distance is exact
            return (float(mouth[0]), float(mouth[1]), level), (float(microphone[0]), float(microphone[1]), level)
    raise ConfigError(f"room {room.size} m: found no place {room.distance} m from the microphone")


def _pyroomacoustics() -> Any:
    try:
        import pyroomacoustics
    except ImportError:
        raise ConfigError("room reverberation needs pyroomacoustics: install callwright[sim]") from None
    return pyroomacoustics
