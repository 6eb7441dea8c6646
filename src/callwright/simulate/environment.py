"""Where a synthetic caller is: the noise around them, the room they stand in, the line they call on.

An :class:`Environment` is the ``environment:`` block of a simulator scenario::

    environment:
      room: {rt60: 0.6, size: [4.0, 5.0, 2.7], distance: 1.5}
      noise: {kind: traffic, snr_db: 5}
      bursts:
        - {kind: horn, rate_per_min: 4, level_db: 3}
      channel: {kind: phone, loss_rate: 0.05, loss_burst: 3, concealment: repeat, jitter_ms: 20}
      echo: {delay_ms: 120, level_db: -12}        # a speakerphone: the agent's voice comes back

Every block is optional; an empty environment is a quiet, dry room on the wideband WebSocket line.
:func:`callwright.simulate.acoustics.render` applies them in a fixed order (room, then noise and
bursts, then the channel); ``docs/simulator.md`` explains each field and lists every sound's source
and licence.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NoiseKind = Literal["white", "pink", "brown", "babble", "traffic", "market", "crowd"]
BurstKind = Literal["horn", "truck_horn", "dog", "phone_ring", "synthetic_siren"]

SABINE = 0.161  # seconds per metre: RT60 = SABINE * volume / (surface * absorption)


class _Block(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Noise(_Block):
    """Continuous background noise, mixed at a speech-to-noise ratio (``docs/simulator.md`` defines it)."""

    kind: NoiseKind
    snr_db: float = Field(ge=-20.0, le=60.0)


class Burst(_Block):
    """Short sounds (a horn, a bark) at random moments: a Poisson process of ``rate_per_min`` events a
    minute, each as loud as the speech plus ``level_db`` (both measured over their active parts)."""

    kind: BurstKind
    rate_per_min: float = Field(gt=0.0, le=60.0)
    level_db: float = Field(default=0.0, ge=-40.0, le=20.0)


class Room(_Block):
    """A shoebox room simulated with pyroomacoustics, its walls absorbing enough for ``rt60``.

    ``size`` is width, depth and height in metres; ``distance`` is how far the caller's mouth is from
    their phone's microphone: 0.2 m for a phone held in front of the face, a metre or two for a
    speakerphone on a table. Closer than 0.2 m pyroomacoustics' ray tracer loses the reverberant tail
    (measured: RT60 0.13 s for a 0.6 s room at 5 cm), and a handset at the cheek hears little of the
    room anyway: leave ``room`` out for it.
    """

    rt60: float = Field(ge=0.1, le=1.5)
    size: list[float] = Field(default_factory=lambda: [4.0, 5.0, 2.7], min_length=3, max_length=3)
    distance: float = Field(default=1.0, ge=0.2, le=5.0)

    @model_validator(mode="after")
    def _fits(self) -> Room:
        width, depth, height = self.size
        if min(self.size) < 1.5:
            raise ValueError(f"room size {self.size}: every side must be at least 1.5 m")
        if self.distance > min(width, depth) - 1.0:
            raise ValueError(
                f"distance {self.distance} m does not fit a {width} x {depth} m room with 0.5 m clear of the walls"
            )
        volume = width * depth * height
        surface = 2 * (width * depth + width * height + depth * height)
        if SABINE * volume / surface >= self.rt60:
            raise ValueError(
                f"rt60 {self.rt60} s is too short for a {width} x {depth} x {height} m room (walls would absorb "
                f"more than all the sound); use rt60 above {SABINE * volume / surface:.2f} s or a smaller room"
            )
        return self


class Wideband(_Block):
    """16 kHz PCM16, as Callwright's WebSocket protocol carries it: lossless, nothing added."""

    kind: Literal["wideband"] = "wideband"


class Phone(_Block):
    """A narrow-band phone line: 300-3400 Hz, 8 kHz μ-law in 20 ms packets, some lost or late.

    Loss follows a two-state Gilbert-Elliott chain (every packet lost in the bad state, none in the
    good one) whose stationary loss rate is ``loss_rate`` and whose bad runs last ``loss_burst``
    packets on average. Each packet also waits in the network for an exponentially distributed time
    with mean ``jitter_ms``; one that reaches the jitter buffer more than ``jitter_buffer_ms`` after it
    was due is late, and is concealed like a lost one.
    """

    kind: Literal["phone"] = "phone"
    # At most a half: with bad runs of a packet or more, the chain can then always reach the rate.
    loss_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    loss_burst: float = Field(default=1.0, ge=1.0, le=50.0)
    concealment: Literal["silence", "repeat"] = "silence"
    jitter_ms: float = Field(default=0.0, ge=0.0, le=500.0)
    jitter_buffer_ms: float = Field(default=60.0, gt=0.0, le=1000.0)

    @property
    def good_to_bad(self) -> float:
        """P(good -> bad) per packet: ``loss_rate = good_to_bad / (good_to_bad + bad_to_good)``."""
        return self.loss_rate / (1.0 - self.loss_rate) * self.bad_to_good

    @property
    def bad_to_good(self) -> float:
        """P(bad -> good) per packet: a bad run lasts ``1 / bad_to_good`` packets on average."""
        return 1.0 / self.loss_burst


Channel = Annotated[Wideband | Phone, Field(discriminator="kind")]


class Echo(_Block):
    """A speakerphone: the agent's voice, played out loud, comes back into the caller's microphone
    ``delay_ms`` later and ``level_db`` relative to how loud the agent sent it (a phone's speaker and
    microphone on a table: about -10 to -20 dB, 50-200 ms of acoustic and device delay). On the
    phone line the echo is band-limited as the caller's speech is. Applied in the voice modes, where
    the agent talks."""

    delay_ms: float = Field(default=120.0, ge=0.0, le=1000.0)
    level_db: float = Field(default=-12.0, ge=-60.0, le=0.0)


class Environment(_Block):
    """The acoustic conditions of one simulated call; see the module docstring for the YAML shape."""

    noise: Noise | None = None
    bursts: list[Burst] = Field(default_factory=list)
    room: Room | None = None
    channel: Channel = Field(default_factory=Wideband)
    echo: Echo | None = None

    @model_validator(mode="before")
    @classmethod
    def _channel_by_name(cls, data: Any) -> Any:
        """``channel: phone`` is short for ``channel: {kind: phone}``."""
        if isinstance(data, dict) and isinstance(data.get("channel"), str):
            return {**data, "channel": {"kind": data["channel"]}}
        return data
