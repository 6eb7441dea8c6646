"""A caller's end of a live call, for end-to-end tests of an agent over audio.

:func:`caller_says` renders what a synthetic caller says (espeak-ng: GPL-3.0, an optional engine,
imported only when this is called). :class:`Line` speaks it into a live call in real time through
:class:`~callwright.client.CallClient`, keeps the microphone open while it waits (as a phone does)
and finds things in what came back::

    async with CallClient(url, caller="+14155550123") as client:
        line = Line(client)
        await line.greeted()
        said = await line.say("where is my order four five six seven")
        assert "on its way" in " ".join(line.texts(said.turn))

Callwright's own voice tests use these; times are the client's ``perf_counter`` (a live call runs
on the wall clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import websockets

from .. import events as ev
from ..audio import resample
from ..client import CallClient

TURN_TIMEOUT_S = 60.0  # a whole turn (speech, endpoint, STT, tools, TTS, playout) on a slow 2-core machine


def caller_says(text: str, rate: int = 16000, *, voice: str = "en-us", wpm: int = 160) -> np.ndarray:
    """``text`` as a synthetic caller says it (espeak-ng ``voice`` at ``wpm`` words a minute), at ``rate`` Hz."""
    from ..engines.tts.espeak import speak

    pcm, espeak_rate = speak(text, voice=voice, rate_wpm=wpm)
    return resample(pcm, espeak_rate, rate)


@dataclass
class Exchange:
    """One caller turn and the agent's answer to it."""

    heard: ev.TranscriptFinal
    reply: Any  # the agent's finished turn (ev.AgentTurn), or the event the caller waited for instead
    start: int  # index of the first event received after the caller began this turn
    spoke_until: float  # perf_counter when the caller's last frame left

    @property
    def turn(self) -> int:
        return self.heard.turn


class Line:
    """The caller's end of a call: speaks in real time, keeps the microphone open while it waits
    (as a phone does), and finds things in what came back."""

    def __init__(self, client: CallClient) -> None:
        self.client = client

    @property
    def events(self) -> list[Any]:
        return self.client.received.events

    def at(self, event: Any) -> float:
        """When ``event`` reached the client (perf_counter seconds)."""
        received = self.client.received
        return next(t for e, t in zip(received.events, received.event_times, strict=True) if e is event)

    def index(self, event: Any) -> int:
        return next(i for i, e in enumerate(self.events) if e is event)

    def of(self, cls: type, *, since: int = 0, until: int | None = None, **fields: Any) -> list[Any]:
        """Events of type ``cls`` with these field values, among events ``since`` .. ``until``."""
        return [
            e
            for e in self.events[since:until]
            if isinstance(e, cls) and all(getattr(e, k) == v for k, v in fields.items())
        ]

    def texts(self, turn: int) -> list[str]:
        return [e.text for e in self.of(ev.AgentText, turn=turn)]

    def story(self) -> str:
        """The call so far, for assertion messages."""
        lines = []
        for e in self.events:
            if isinstance(e, (ev.PlaybackMark, ev.Latency, ev.SpeechStarted, ev.SpeechStopped)):
                continue
            fields = e.model_dump(exclude={"v", "call_id", "seq", "t_ms", "type"})
            lines.append(f"{e.t_ms:9.0f} {e.type} {fields}")
        return "\n".join(lines)

    async def listen_for(
        self, predicate: Callable[[Any], bool], *, since: int = 0, timeout: float = TURN_TIMEOUT_S
    ) -> Any:
        """The first event from index ``since`` matching ``predicate``, sending silence meanwhile."""
        try:
            with anyio.fail_after(timeout):
                while True:
                    found = next((e for e in self.events[since:] if predicate(e)), None)
                    if found is not None:
                        return found
                    if self.client.received.close_code is not None:
                        raise AssertionError(f"the call closed before the awaited event:\n{self.story()}")
                    try:
                        await self.client.silence(0.1)
                    except websockets.ConnectionClosed:
                        await self.client.wait_closed()  # the server ended the call: look once more, then stop
        except TimeoutError:
            raise AssertionError(f"no awaited event within {timeout:g} s:\n{self.story()}") from None

    async def until_audio_after(self, t: float, *, timeout: float = TURN_TIMEOUT_S) -> None:
        """Keep the line open until agent audio arrives after ``t`` (perf_counter seconds)."""
        with anyio.fail_after(timeout):
            while self.client.received.first_audio_after(t) is None:
                await self.client.silence(0.02)

    async def greeted(self) -> list[str]:
        await self.listen_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        return self.texts(0)

    async def say(self, text: str, *, until: Callable[[Any], bool] | None = None) -> Exchange:
        """Speak ``text``, then listen until the agent has finished answering it (or, with
        ``until``, only until an event matching it arrives: the rest of the answer need not play)."""
        start = len(self.events)
        spoke_until = await self.client.speak(caller_says(text))
        return await self._answered(start, spoke_until, "speech", until)

    async def answer(self, text: str, *, field: str) -> Exchange:
        """Speak the answer to a form field's question; say it once more if the agent did not
        catch it ("Sorry, I didn't catch that"), as a caller would."""
        said = await self.say(text)
        if self.of(ev.FormField, since=said.start, field=field, status="rejected"):
            said = await self.say(text)
        return said

    async def type(self, text: str, *, until: Callable[[Any], bool] | None = None) -> Exchange:
        """A typed turn (``caller.text``), for steps a test is not about."""
        start = len(self.events)
        await self.client.send_event(ev.CallerText(text=text))
        return await self._answered(start, 0.0, "text", until)

    async def _answered(
        self, start: int, spoke_until: float, source: str, until: Callable[[Any], bool] | None
    ) -> Exchange:
        heard = await self.listen_for(lambda e: isinstance(e, ev.TranscriptFinal) and e.source == source, since=start)
        done = until or (lambda e: isinstance(e, ev.AgentTurn) and e.turn == heard.turn)
        return Exchange(heard, await self.listen_for(done, since=start), start, spoke_until)

    async def hang_up(self) -> ev.CallEnded:
        if not self.of(ev.CallEnded):
            await self.client.hangup()
        ended: ev.CallEnded = await self.client.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=30)
        return ended
