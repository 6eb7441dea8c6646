"""The caller's phone on a real connection: what real-time mode dials an agent with.

A handset sends the caller's microphone in 20 ms frames on a real-time schedule, plays what the
agent sends back as a phone does, and keeps, with their times, the agent's audio as it was played
(:class:`Playback`) and, over the native protocol, the events the agent reported. Two transports:

* :class:`TwilioHandset` plays Twilio's side of a Media Stream (through
  :class:`~callwright.transport.twilio_peer.TwilioPeer`): ``connected``, then ``start`` with a
  ``streamSid`` and the caller's number in ``customParameters``, 8 kHz μ-law ``media`` every 20 ms,
  ``dtmf``, and ``stop`` when the caller hangs up. It echoes each ``mark`` once the audio queued
  before it has played, and on ``clear`` drops what it has not played. It dials either the agent's
  voice webhook (``http://...``: the TwiML's ``<Connect><Stream>`` names the stream, and the number
  goes in the webhook's ``From``) or the stream itself (``ws://...``). When the agent ends the
  stream it requests the ``<Connect action>`` URL, as Twilio does, so a ``<Dial>`` (a transfer) is
  seen from outside.
* :class:`NativeHandset` speaks Callwright's protocol (``docs/protocol.md``) through
  :class:`~callwright.client.CallClient`, at 16 kHz.

Times are ``time.perf_counter`` seconds, the scale both clients stamp what they receive with and
that :class:`~callwright.clock.MonotonicClock` reads: a real call runs on the real clock.
"""

from __future__ import annotations

import base64
import bisect
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import websockets

from .. import events as ev
from ..audio.codecs import mulaw_decode
from ..audio.pcm import Pcm
from ..client import CallClient
from ..errors import CallwrightError
from ..transport.twilio_peer import TwilioPeer

Protocol_ = Literal["native", "twilio"]
VOICED_DBFS = -50.0  # a 20 ms frame above this level is the agent talking; below, silence or line hiss
WITHHELD = "anonymous"  # the From of a call whose number is withheld


class DialError(CallwrightError):
    """The agent under test could not be reached (no server at the URL, or not the protocol named)."""

    category = "simulate"


@dataclass
class Playback:
    """The agent's audio as the caller's phone plays it.

    A chunk plays from when it arrives or when the chunk before it has finished, whichever is later
    (an agent may send faster than real time: the phone buffers); a ``clear`` drops what has not
    played yet. ``voiced`` holds the play times of the 20 ms frames above :data:`VOICED_DBFS`.
    """

    rate: int
    chunks: list[tuple[float, Pcm]] = field(default_factory=list)  # (when it starts playing, audio)
    voiced: list[float] = field(default_factory=list)
    end: float = 0.0  # when the last chunk finishes playing

    @property
    def frame(self) -> int:
        return self.rate // 50

    def arrive(self, at: float, pcm: Pcm) -> None:
        start = max(at, self.end)
        self.chunks.append((start, pcm))
        self.end = start + pcm.size / self.rate
        for i in range(0, pcm.size, self.frame):
            if _dbfs(pcm[i : i + self.frame]) > VOICED_DBFS:
                self.voiced.append(start + i / self.rate)

    def clear(self, at: float) -> None:
        """Drop every sample that would play after ``at``."""
        if self.end <= at:
            return
        kept = []
        for start, pcm in self.chunks:
            if start >= at:
                continue
            kept.append((start, pcm[: max(0, int((at - start) * self.rate))]))
        self.chunks = kept
        self.voiced = [t for t in self.voiced if t + 1 / 50 <= at]
        self.end = at

    def first_voiced(self, after: float) -> float | None:
        """When the first voiced sample at or after ``after`` plays (sample-accurate), or None."""
        index = bisect.bisect_left(self.voiced, after)
        if index == len(self.voiced):
            return None
        frame_at = self.voiced[index]
        pcm = self.between(frame_at, frame_at + 1 / 50)
        loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) >= 32768 * 10 ** (VOICED_DBFS / 20))
        return frame_at + (float(loud[0]) / self.rate if loud.size else 0.0)

    def last_voiced_end(self) -> float | None:
        """When the last voiced frame (played or queued) finishes playing."""
        return self.voiced[-1] + 1 / 50 if self.voiced else None

    def between(self, start: float, end: float) -> Pcm:
        """What played from ``start`` to ``end`` (silence where nothing did)."""
        out = np.zeros(max(0, round((end - start) * self.rate)), dtype=np.int16)
        for at, pcm in self.chunks:
            if at >= end or at + pcm.size / self.rate <= start:
                continue
            offset = round((at - start) * self.rate)
            lo, hi = max(0, offset), min(out.size, offset + pcm.size)
            if hi > lo:
                out[lo:hi] = pcm[lo - offset : hi - offset]
        return out


class Handset(Protocol):
    """What real-time mode needs of a transport (see the module docstring)."""

    rate: int  # the line's sample rate, both ways
    playback: Playback
    transport: Protocol_

    @property
    def closed(self) -> bool: ...

    def events(self) -> list[ev.Event]:
        """What the agent reported about itself, in order (nothing over Twilio)."""
        ...

    def sync(self) -> None:
        """Bring :attr:`playback` up to date with what has arrived."""
        ...

    async def send(self, pcm: Pcm) -> None:
        """``pcm`` (at :attr:`rate`) as microphone audio, one 20 ms frame per 20 ms; nothing once closed."""
        ...

    async def press(self, key: str) -> None: ...

    async def hang_up(self) -> None: ...

    async def handed_to(self) -> str | None:
        """After the agent ended the call: the number it handed the caller to, if the transport shows one."""
        ...


class TwilioHandset:
    """Twilio's side of a Media Stream, at 8 kHz μ-law (see the module docstring)."""

    rate = 8000
    transport: Protocol_ = "twilio"

    def __init__(self, peer: TwilioPeer) -> None:
        self.peer = peer
        self.playback = Playback(self.rate)
        self._seen = 0
        self._after: str | None = None

    @classmethod
    async def dial(cls, target: str, caller: str | None) -> TwilioHandset:
        """A handset for ``target``: the voice webhook (``http(s)://``; a bare host means Callwright's
        ``/twilio/voice``) or the Media Stream's own ``ws(s)://`` URL. Enter it to connect."""
        number = caller or WITHHELD
        parts = urlsplit(target)
        if parts.scheme in ("http", "https"):
            if parts.path in ("", "/"):
                target = urlunsplit(parts._replace(path="/twilio/voice"))
            try:
                return cls(await TwilioPeer.answer(target, caller=number))
            except (httpx.HTTPError, ValueError, ET.ParseError) as exc:
                raise DialError(f"could not dial {target}: {exc}; is the agent's Twilio voice webhook there?") from exc
        if parts.scheme in ("ws", "wss"):
            return cls(TwilioPeer(target, caller=number))
        raise DialError(f"--target {target!r}: expected an http(s):// voice webhook or a ws(s):// Media Stream URL")

    async def __aenter__(self) -> TwilioHandset:
        try:
            await self.peer.__aenter__()
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise DialError(f"could not open the Media Stream at {self.peer.url}: {str(exc) or type(exc).__name__}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if not self.closed:
                await self.peer.stop()  # the caller hung up: Twilio says so before closing the stream
        finally:
            await self.peer.__aexit__(*exc)

    @property
    def closed(self) -> bool:
        return self.peer.closed.is_set()

    def events(self) -> list[ev.Event]:
        return []

    def sync(self) -> None:
        messages = self.peer.log.messages
        for at, message in messages[self._seen :]:
            kind = message.get("event")
            if kind == "media":
                self.playback.arrive(at, mulaw_decode(base64.b64decode(message["media"]["payload"])))
            elif kind == "clear":
                self.playback.clear(at)
        self._seen = len(messages)

    async def send(self, pcm: Pcm) -> None:
        await self.peer.speak(pcm)

    async def press(self, key: str) -> None:
        await self.peer.press(key)

    async def hang_up(self) -> None:
        if not self.closed:
            await self.peer.stop()

    async def handed_to(self) -> str | None:
        """The ``<Dial>`` number the ``<Connect action>`` answered once the stream closed (as Twilio
        requests it), or None: no action URL, no ``<Dial>``, or the stream still open."""
        if not self.closed or not self.peer.action_url:
            return None
        if self._after is None:
            self._after = await self.peer.follow_action()
        dial = ET.fromstring(self._after).find("Dial")
        if dial is None:
            return None
        number = dial.find("Number")
        return ((number.text if number is not None else dial.text) or "").strip() or None


class NativeHandset:
    """Callwright's native protocol at 16 kHz, through :class:`~callwright.client.CallClient`."""

    rate = 16000
    transport: Protocol_ = "native"

    def __init__(self, url: str, caller: str | None, token: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):  # a server's base URL: its /ws
            parts = parts._replace(scheme="ws" if parts.scheme == "http" else "wss", path=parts.path if parts.path not in ("", "/") else "/ws")
        elif parts.scheme not in ("ws", "wss"):
            raise DialError(f"--target {url!r}: expected a ws(s):// URL of the agent's native WebSocket (or its http(s):// base)")
        self.url = urlunsplit(parts)
        self.client = CallClient(self.url, sample_rate=self.rate, caller=caller, token=token)
        self.playback = Playback(self.rate)
        self._audio = 0
        self._events = 0

    async def __aenter__(self) -> NativeHandset:
        try:
            await self.client.__aenter__()
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI, websockets.ConnectionClosed) as exc:
            why = str(exc) or type(exc).__name__
            raise DialError(f"could not dial {self.url}: {why}; is the agent running there, speaking Callwright's protocol?") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.client.hangup()
        finally:
            await self.client.__aexit__(*exc)

    @property
    def closed(self) -> bool:
        received = self.client.received
        return received.close_code is not None or any(isinstance(e, ev.CallEnded) for e in received.events)

    def events(self) -> list[ev.Event]:
        return list(self.client.received.events)

    def sync(self) -> None:
        received = self.client.received
        audio = received.audio[self._audio :]
        upto = len(received.event_times)  # each event's time is noted just after it
        clears = [
            (at, e) for at, e in zip(received.event_times[self._events : upto], received.events[self._events : upto], strict=True)
            if isinstance(e, ev.Clear)
        ]
        self._audio += len(audio)
        self._events = upto
        arrived: list[tuple[float, Pcm | None]] = [*audio, *((at, None) for at, _ in clears)]
        for at, pcm in sorted(arrived, key=lambda pair: pair[0]):
            if pcm is None:
                self.playback.clear(at)
            else:
                self.playback.arrive(at, pcm)

    async def send(self, pcm: Pcm) -> None:
        try:
            await self.client.speak(pcm)
        except websockets.ConnectionClosed:
            pass  # the agent ended the call: ``closed`` says so

    async def press(self, key: str) -> None:
        try:
            await self.client.send_event(ev.Dtmf(digit=key))
        except websockets.ConnectionClosed:
            pass

    async def hang_up(self) -> None:
        await self.client.hangup()

    async def handed_to(self) -> str | None:
        transfers = [e for e in self.client.received.events if isinstance(e, ev.Transfer) and e.mode == "transfer"]
        return transfers[-1].to if transfers else None


def _dbfs(pcm: Pcm) -> float:
    if pcm.size == 0:
        return -math.inf
    power = float(np.mean(pcm.astype(np.float64) ** 2))
    return 10 * math.log10(power / 32768.0**2) if power > 0 else -math.inf


async def dial(target: str, protocol: Protocol_, caller: str | None, *, token: str | None = None) -> TwilioHandset | NativeHandset:
    """A handset for ``target`` over ``protocol``, to enter with ``async with`` (which connects)."""
    if protocol == "native":
        return NativeHandset(target, caller, token)
    if protocol == "twilio":
        return await TwilioHandset.dial(target, caller)
    raise DialError(f"protocol {protocol!r}: expected 'native' or 'twilio'")
