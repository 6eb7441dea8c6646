"""Render a caller's speech through an acoustic :class:`~.environment.Environment`.

:func:`render` is a pure function of the speech, the environment and a seed. The conditions stack in
one order, the order sound travels:

1. **room**: the speech is convolved with the room's impulse response (mouth to microphone), and
   kept at its own active level;
2. **noise and bursts** reach the microphone: the noise is scaled so that the speech-to-noise ratio
   over the speech's active frames is ``snr_db`` (:mod:`.levels` defines both), and each burst is
   placed at a random time and made ``level_db`` louder than the speech. Noise and bursts are not
   passed through the room: the recordings carry their own space;
3. if the sum would clip, all of it is turned down together (``gain_db`` in the report), which keeps
   every ratio; it is then rounded to 16-bit PCM;
4. **channel**: ``wideband`` leaves the 16 kHz PCM as it is; ``phone`` band-passes it, carries it as
   8 kHz μ-law in 20 ms packets, loses some and conceals them (:mod:`.channel`), and gives 8 kHz PCM.

Each stage draws from its own random generator, spawned from the seed: the same seed gives the same
audio, sample for sample, and changing one stage (say, the channel) leaves the others' draws as they
were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from ..audio.pcm import Pcm, from_float, to_float
from ..audio.resample import resample
from ..errors import ConfigError
from .channel import PHONE_RATE, phone_line
from .environment import Burst, Environment, Phone
from .levels import Audio, active_mask, active_power, to_db
from .room import impulse_response, reverberate
from .sounds import burst as burst_clip
from .sounds import noise as noise_bed

RATE = 16000
FULL_SCALE = 32767.0 / 32768.0  # the loudest sample PCM16 can hold


class BurstEvent(BaseModel):
    """One burst as placed in the rendering."""

    model_config = ConfigDict(frozen=True)

    kind: str
    start_s: float
    duration_s: float


class AcousticReport(BaseModel):
    """What :func:`render` applied, for the simulator to record with each case. Levels in dB;
    ``None`` where a condition was not asked for."""

    model_config = ConfigDict(frozen=True)

    seed: int
    sample_rate: int
    speech_dbfs: float  # active level of the speech at the microphone, before ``gain_db``
    gain_db: float  # applied to everything at the microphone so that it does not clip (0 or below)
    noise: str | None = None
    snr_db: float | None = None  # requested
    snr_db_measured: float | None = None  # from the rendered 16-bit microphone signal, before the channel
    bursts: list[BurstEvent] = []
    rt60: float | None = None  # requested
    rt60_measured: float | None = None  # of the impulse response used (pyroomacoustics' measure_rt60, T30)
    distance_m: float | None = None
    channel: str = "wideband"
    packets: int = 0
    packets_lost: int = 0
    packets_late: int = 0


@dataclass(frozen=True)
class Rendered:
    """The caller's audio as the agent receives it: 16 kHz on ``wideband``, 8 kHz on ``phone``."""

    audio: Pcm
    sample_rate: int
    report: AcousticReport


def render(
    speech: Pcm | npt.NDArray[np.float32],
    sample_rate: int,
    environment: Environment,
    *,
    seed: int,
    reference_dbfs: float | None = None,
) -> Rendered:
    """``speech`` (mono PCM16, or float32 in [-1, 1], at ``sample_rate``) through ``environment``.

    Noise and bursts are set relative to the speech's active level; for audio with no speech in it
    (a silence the caller keeps), pass that level as ``reference_dbfs``.
    """
    room_rng, noise_rng, burst_rng, channel_rng = np.random.default_rng(seed).spawn(4)
    voice = _as_wideband(speech, sample_rate)
    report: dict[str, object] = {"seed": seed}
    if environment.room is not None:
        response, placement = impulse_response(environment.room, room_rng)
        voice = reverberate(voice, response)
        report |= {
            "rt60": environment.room.rt60,
            "rt60_measured": placement.rt60_measured,
            "distance_m": environment.room.distance,
        }
    if reference_dbfs is not None:  # the level is given: noise power is taken over every sample
        speech_power, active = 10.0 ** (reference_dbfs / 10.0), np.ones(voice.size, dtype=np.bool_)
    else:
        active = active_mask(voice, RATE)
        if not active.any():
            raise ConfigError("render: the speech is silent; pass reference_dbfs to set noise against a level")
        speech_power = float(np.mean(voice[active] ** 2))
    report["speech_dbfs"] = to_db(speech_power)

    noise = np.zeros(voice.size)
    if environment.noise is not None:
        noise = noise_bed(environment.noise.kind, voice.size, noise_rng)
        snr = 10.0 ** (environment.noise.snr_db / 10.0)
        noise *= np.sqrt(speech_power / snr / float(np.mean(noise[active] ** 2)))
        report |= {"noise": environment.noise.kind, "snr_db": environment.noise.snr_db}
    bursts, events = _bursts(environment.bursts, voice.size, speech_power, burst_rng)
    report["bursts"] = events

    microphone = voice + noise + bursts
    peak = float(np.max(np.abs(microphone), initial=0.0))
    gain = min(1.0, FULL_SCALE / peak) if peak > 0.0 else 1.0
    pcm = from_float((microphone * gain).astype(np.float32))
    report["gain_db"] = 20.0 * np.log10(gain)
    if environment.noise is not None:  # measured again: what is left of the 16-bit signal without the rest
        heard_noise = pcm / 32767.0 - (voice + bursts) * gain  # from_float scales by 32767
        report["snr_db_measured"] = to_db(speech_power * gain**2) - to_db(float(np.mean(heard_noise[active] ** 2)))

    if isinstance(environment.channel, Phone):
        heard, delivery = phone_line(to_float(pcm).astype(np.float64), environment.channel, channel_rng)
        report |= {
            "channel": "phone",
            "packets": delivery.packets,
            "packets_lost": delivery.lost,
            "packets_late": delivery.late,
        }
        return Rendered(heard, PHONE_RATE, AcousticReport.model_validate({**report, "sample_rate": PHONE_RATE}))
    return Rendered(pcm, RATE, AcousticReport.model_validate({**report, "sample_rate": RATE}))


def _as_wideband(speech: Pcm | npt.NDArray[np.float32], sample_rate: int) -> Audio:
    if speech.ndim != 1:
        raise ConfigError(f"render: expected mono audio, got an array of shape {speech.shape}")
    if speech.dtype == np.int16:
        pcm = np.asarray(speech, dtype=np.int16)
    elif speech.dtype == np.float32:
        pcm = from_float(np.asarray(speech, dtype=np.float32))
    else:
        raise ConfigError(f"render: expected int16 or float32 samples, got {speech.dtype}")
    return to_float(resample(pcm, sample_rate, RATE)).astype(np.float64)


def _bursts(
    bursts: list[Burst], samples: int, speech_power: float, rng: np.random.Generator
) -> tuple[Audio, list[BurstEvent]]:
    """Each kind as a Poisson process over the whole rendering (count drawn, times uniform), every
    occurrence scaled so its active level is ``level_db`` above the speech's; a burst may run past
    the end and is cut there."""
    total = np.zeros(samples)
    events: list[BurstEvent] = []
    seconds = samples / RATE
    for burst in bursts:
        count = int(rng.poisson(burst.rate_per_min * seconds / 60.0))
        for start in np.sort(rng.uniform(0.0, seconds, count)):
            clip = burst_clip(burst.kind, rng)
            clip = clip * np.sqrt(speech_power * 10.0 ** (burst.level_db / 10.0) / active_power(clip, RATE))
            first = int(start * RATE)
            piece = clip[: samples - first]
            total[first : first + piece.size] += piece
            events.append(BurstEvent(kind=burst.kind, start_s=round(float(start), 3), duration_s=round(clip.size / RATE, 3)))
    return total, events
