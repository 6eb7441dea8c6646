"""Helpers for testing agents and calls, the same ones Callwright's own tests use.

``LocalCall`` runs a real :class:`~callwright.voice.call.Call` in-process over a
:class:`~callwright.transport.memory.MemoryIO`: feed it audio in real time, wait for events, read the
trace. Pair it with the fake engines in :mod:`callwright.engines.fakes` for fast tests, or with the
embedded ones for real speech.

Given a :class:`~callwright.clock.SteppedClock`, the call runs on virtual time: while the test waits
for an event (or speaks), the helper moves the clock on in small steps, each sleeper waking at its
own deadline. A tool's filler and timeout then cost no real time, and their times in the events are
exact relative to one another. Compute in threads (inference, the intent ranker) is off a default
``SteppedClock``: the steps go on while it runs, so absolute times vary from run to run. On one made
with ``charge_compute`` (fast mode) it is on the clock: the steps wait for it and it costs its real
time, or the modelled cost, so a latency is the silence and timers plus the compute, and with
modelled costs exact. ``timeout`` arguments stay real seconds: they bound a test that hangs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np

from .. import events as ev
from ..agent.base import Agent
from ..audio.pcm import Pcm
from ..clock import Clock, SteppedClock
from ..transport.memory import MemoryIO
from ..voice.call import Call, CallOptions, Engines


def tone(seconds: float, rate: int = 16000, hz: float = 440.0, amplitude: float = 0.25) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype(np.int16)


def silence(seconds: float, rate: int = 16000) -> Pcm:
    return np.zeros(int(seconds * rate), dtype=np.int16)


class LocalCall:
    """``async with LocalCall(agent, engines) as c: await c.speak(audio); await c.wait_for(...)``."""

    def __init__(
        self,
        agent: Agent,
        engines: Engines,
        *,
        options: CallOptions | None = None,
        rate: int = 16000,
        caller: str | None = None,
        clock: Clock | None = None,
        io: MemoryIO | None = None,
    ) -> None:
        self.io = io if io is not None else MemoryIO(input_rate=rate, output_rate=rate)
        self.call = Call(agent, engines, self.io, options=options, caller=caller, transport="local", clock=clock)
        self.clock = self.call.clock
        self._stepped = clock if isinstance(clock, SteppedClock) else None
        self.rate = rate
        self.ended: ev.CallEnded | None = None
        self._tg: Any = None

    async def __aenter__(self) -> LocalCall:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def _run(self) -> None:
        self.ended = await self.call.run()

    async def __aexit__(self, *exc: object) -> None:
        self.call.hangup("hangup")
        await self._tg.__aexit__(None, None, None)

    async def speak(self, pcm: Pcm, *, realtime: bool = True, frame_ms: int = 20) -> None:
        """Push caller audio frame by frame; in real time (on a stepped clock: its time) unless
        ``realtime`` is False."""
        step = self.rate * frame_ms // 1000
        start = time.perf_counter()
        for n, i in enumerate(range(0, pcm.size, step), start=1):
            self.call.push_audio(pcm[i : i + step])
            if not realtime:
                await anyio.lowlevel.checkpoint()
            elif self._stepped is not None:
                await self._stepped.advance(frame_ms / 1000)
            else:
                await anyio.sleep(max(0.0, start + n * frame_ms / 1000 - time.perf_counter()))

    async def pause(self, seconds: float) -> None:
        """Let the call run for ``seconds``: real time, or that much of a stepped clock's time."""
        if self._stepped is not None:
            await self._stepped.advance(seconds)
        else:
            await anyio.sleep(seconds)

    def events(self, kind: type | None = None) -> list[Any]:
        return [e for e in self.call.events if kind is None or isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 20.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                for e in self.call.events:
                    if predicate(e):
                        return e
                await self.pause(0.01)

    async def wait_ended(self, timeout: float = 20.0) -> ev.CallEnded:
        with anyio.fail_after(timeout):
            while self.ended is None:
                await self.pause(0.01)
        return self.ended


class TextCall:
    """A real :class:`Call` driven by typed turns: the text mode of ``callwright chat`` and of tests.

    The agent runs exactly as on a voice call (tools, fillers, forms, events), with a silent,
    very fast fake voice so replies take milliseconds to "play"::

        async with TextCall(agent, caller="+14155550123") as c:
            await c.greeting()
            reply = await c.say("where is my order 4567")

    ``clock=SteppedClock()`` runs it on virtual time (see the module docstring): a tool that takes
    30 s, or a timeout of 10 s, takes none of the test's; ``SteppedClock(charge_compute="measured")``
    puts the agent's compute (its intent ranker, emotion, document search) in the reply's latency.
    """

    def __init__(
        self, agent: Agent, *, caller: str | None = None, options: CallOptions | None = None, clock: Clock | None = None
    ) -> None:
        from ..engines.fakes import EnergyVad, FakeStt, FakeTts

        engines = Engines(stt=FakeStt([]), tts=FakeTts(ms_per_char=0.5, amplitude=0.0), vad=EnergyVad())
        self.local = LocalCall(agent, engines, options=options, caller=caller, clock=clock)
        self.call = self.local.call
        self._seen = 0

    async def __aenter__(self) -> TextCall:
        await self.local.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.local.__aexit__(*exc)

    def events(self, kind: type | None = None) -> list[Any]:
        return self.local.events(kind)

    async def greeting(self, timeout: float = 20.0) -> str:
        """The greeting, once it has been said (empty if the agent waits for the caller)."""
        started = await self.local.wait_for(lambda e: isinstance(e, ev.CallStarted), timeout)
        if not started.greeting:
            return ""
        turn = await self.local.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout)
        return str(turn.text)

    async def say(self, text: str, *, confidence: float = 1.0, timeout: float = 30.0) -> str:
        """Send a typed caller turn; return the agent's reply once spoken ("" if it said nothing).

        ``confidence`` is the recognition confidence the turn carries, as if a recogniser had heard
        it (1.0: typed, certain).
        """
        self.call.push_text(text, confidence=confidence)
        return await self._reply(timeout)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the call has finished what the last turn started (a transfer, a hang-up)."""
        with anyio.fail_after(timeout):
            while self.call.ending and self.local.ended is None:
                await self.local.pause(0.005)

    async def keys(self, digits: str, *, timeout: float = 30.0) -> str:
        """Keys pressed on the phone's keypad (DTMF), one at a time as a phone sends them; the
        agent's reply to the last ("4567#": the agent answers at the hash key)."""
        reply = ""
        for key in digits:
            self.call.push_text(key, source="dtmf")
            reply = await self._reply(timeout)
        return reply

    async def web_value(self, form: str, field: str, value: str, *, timeout: float = 30.0) -> str:
        """A value arriving from a web form link, as the server delivers it to the live call."""
        self.call.push_form_value(form, field, value)
        return await self._reply(timeout)

    async def _reply(self, timeout: float) -> str:
        # Turns that reached the call another way (a web form value delivered by the bus) count too.
        heard = max((e.turn for e in self.local.events(ev.TranscriptFinal)), default=0)
        self._seen = max(self._seen, heard) + 1
        index = self._seen
        done = await self.local.wait_for(
            lambda e: (isinstance(e, ev.AgentTurn) and e.turn == index) or isinstance(e, ev.CallEnded), timeout
        )
        return str(done.text) if isinstance(done, ev.AgentTurn) else ""

    async def ended(self, timeout: float = 20.0) -> ev.CallEnded:
        return await self.local.wait_ended(timeout)
