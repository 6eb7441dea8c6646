"""Helpers for testing agents and calls, the same ones Callwright's own tests use.

``LocalCall`` runs a real :class:`~callwright.voice.call.Call` in-process over a
:class:`~callwright.transport.memory.MemoryIO`: feed it audio in real time, wait for events, read the
trace. Pair it with the fake engines in :mod:`callwright.engines.fakes` for fast tests, or with the
embedded ones for real speech.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np

from . import events as ev
from .agent.base import Agent
from .audio.pcm import Pcm
from .transport.memory import MemoryIO
from .voice.call import Call, CallOptions, Engines


def tone(seconds: float, rate: int = 16000, hz: float = 440.0, amplitude: float = 0.25) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype(np.int16)


def silence(seconds: float, rate: int = 16000) -> Pcm:
    return np.zeros(int(seconds * rate), dtype=np.int16)


class LocalCall:
    """``async with LocalCall(agent, engines) as c: await c.speak(audio); await c.wait_for(...)``."""

    def __init__(
        self, agent: Agent, engines: Engines, *, options: CallOptions | None = None, rate: int = 16000, caller: str | None = None
    ) -> None:
        self.io = MemoryIO(input_rate=rate, output_rate=rate)
        self.call = Call(agent, engines, self.io, options=options, caller=caller, transport="local")
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
        """Push caller audio frame by frame; in real time unless ``realtime`` is False."""
        step = self.rate * frame_ms // 1000
        start = time.perf_counter()
        for n, i in enumerate(range(0, pcm.size, step), start=1):
            self.call.push_audio(pcm[i : i + step])
            if realtime:
                await anyio.sleep(max(0.0, start + n * frame_ms / 1000 - time.perf_counter()))
            else:
                await anyio.lowlevel.checkpoint()

    def events(self, kind: type | None = None) -> list[Any]:
        return [e for e in self.call.events if kind is None or isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 20.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                for e in self.call.events:
                    if predicate(e):
                        return e
                await anyio.sleep(0.01)

    async def wait_ended(self, timeout: float = 20.0) -> ev.CallEnded:
        with anyio.fail_after(timeout):
            while self.ended is None:
                await anyio.sleep(0.01)
        return self.ended
