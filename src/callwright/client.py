"""A client for the native protocol: what ``callwright call``, the caller's end of a live call in
:mod:`callwright.testing.voice`, the end-to-end tests and the benchmarks use.

:class:`CallClient` streams caller audio in real time (20 ms frames on a schedule), receives the
agent's audio and events, honours ``audio.clear`` like a real player would, echoes marks, and can
mix the agent's audio back into the microphone to imitate a speakerphone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection, connect

from . import events as ev
from .audio.pcm import Pcm, from_bytes, to_bytes


@dataclass
class Received:
    """Everything the client got back, with arrival times (seconds, ``time.perf_counter``)."""

    events: list[Any] = field(default_factory=list)
    event_times: list[float] = field(default_factory=list)
    audio: list[tuple[float, Pcm]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def agent_audio(self, after: float = 0.0) -> Pcm:
        chunks = [pcm for t, pcm in self.audio if t >= after]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def first_audio_after(self, t: float) -> float | None:
        return next((at for at, _ in self.audio if at >= t), None)


class CallClosed(ConnectionError):
    """The connection closed while the client waited for an event that had not come.

    ``code`` and ``reason`` are the WebSocket close code and reason (``None``/``""`` when none came).
    """

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed ({code}) while waiting")
        self.code = code
        self.reason = reason


class CallClient:
    """One call over the native WebSocket protocol.

    Use as ``async with CallClient(url) as c:``; then ``await c.speak(pcm)``, ``await c.wait_for(...)``.
    """

    def __init__(
        self,
        url: str,
        *,
        sample_rate: int = 16000,
        caller: str | None = None,
        token: str | None = None,
        echo_gain: float = 0.0,
        echo_delay_ms: int = 120,
        agent: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.url = url + (("&" if "?" in url else "?") + f"token={token}" if token else "")
        self.rate = sample_rate
        self.caller = caller
        self.agent = agent  # the agent to talk to (call.start.agent); the server refuses one it does not serve
        self.metadata = dict(metadata or {})
        self.frame = sample_rate // 50
        self.received = Received()
        self.echo_gain = echo_gain
        self._echo_delay = sample_rate * echo_delay_ms // 1000
        self._playback = np.zeros(0, dtype=np.int16)  # agent audio queued "in the speaker"
        self._played: list[Pcm] = []
        self._ws: ClientConnection | None = None
        self._tg: Any = None
        self._changed = anyio.Event()
        self._receiving_done = anyio.Event()  # every message that arrived is in ``received``
        self.started: ev.CallStarted | None = None
        self._next_send: float | None = None
        self.sent_samples = 0

    async def __aenter__(self) -> CallClient:
        self._ws = await connect(self.url, max_size=2**22)
        await self.send_event(ev.CallStart(sample_rate=self.rate, caller=self.caller, agent=self.agent, metadata=self.metadata))
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._receive)
        started = await self.wait_for(lambda e: isinstance(e, ev.CallStarted), timeout=30)
        self.started = started
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._ws is not None
        try:
            await self._ws.close()
        finally:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)

    # ---------------------------------------------------------------- sending
    async def send_event(self, event: ev._Event) -> None:
        assert self._ws is not None
        await self._ws.send(event.model_dump_json())

    async def send_raw(self, data: str | bytes) -> None:
        assert self._ws is not None
        await self._ws.send(data)

    async def speak(self, pcm: Pcm, *, realtime: bool = True) -> float:
        """Stream ``pcm`` as microphone audio, one 20 ms frame per 20 ms. Returns when the last frame left."""
        assert self._ws is not None
        now = time.perf_counter()
        if self._next_send is None or now - self._next_send > 0.5:
            self._next_send = now  # (re)anchor after a real pause; shorter stalls are caught up, like a sound card
        for i in range(0, pcm.size, self.frame):
            chunk = pcm[i : i + self.frame]
            if chunk.size < self.frame:
                chunk = np.concatenate((chunk, np.zeros(self.frame - chunk.size, dtype=np.int16)))
            mic = self._with_echo(chunk)
            await self._ws.send(to_bytes(mic))
            self.sent_samples += chunk.size
            self._next_send += 0.02
            if realtime:
                delay = self._next_send - time.perf_counter()
                if delay > 0:
                    await anyio.sleep(delay)
        return time.perf_counter()

    async def silence(self, seconds: float, *, realtime: bool = True) -> None:
        await self.speak(np.zeros(int(seconds * self.rate), dtype=np.int16), realtime=realtime)

    async def listen_until(self, predicate: Any, *, timeout: float = 30.0, start: int = 0) -> Any:
        """Keep the microphone open (silence, plus any echo) until an event (from index ``start``)
        matches ``predicate``.

        A real client never stops sending audio while it waits; use this rather than
        :meth:`wait_for` when the echo model or the server's idle timer should see a live line.
        Raises :class:`CallClosed` if the connection closes first.
        """
        with anyio.fail_after(timeout):
            while True:
                for e in self.received.events[start:]:
                    if predicate(e):
                        return e
                if self._receiving_done.is_set():
                    raise CallClosed(self.received.close_code, self.received.close_reason)
                try:
                    await self.silence(0.1)
                except websockets.ConnectionClosed:
                    await self._receiving_done.wait()  # look once more at what arrived before the close

    async def hangup(self) -> None:
        """End the call; nothing to do if the connection has already closed (the call is over)."""
        try:
            await self.send_event(ev.HangupRequest())
        except websockets.ConnectionClosed:
            pass

    def _with_echo(self, chunk: Pcm) -> Pcm:
        """Play 20 ms of agent audio 'in the speaker' and, with echo_gain, leak it into the mic."""
        take = self._playback[: chunk.size]
        self._playback = self._playback[chunk.size :]
        if take.size < chunk.size:
            take = np.concatenate((take, np.zeros(chunk.size - take.size, dtype=np.int16)))
        self._played.append(take)
        if not self.echo_gain:
            return chunk
        history = np.concatenate(self._played[-(self._echo_delay // chunk.size + 2) :])
        end = history.size - self._echo_delay
        leak = history[max(0, end - chunk.size) : end] if end > 0 else np.zeros(0, dtype=np.int16)
        if leak.size < chunk.size:
            leak = np.concatenate((np.zeros(chunk.size - leak.size, dtype=np.int16), leak))
        mixed = chunk.astype(np.int32) + (leak.astype(np.float32) * self.echo_gain).astype(np.int32)
        return np.clip(mixed, -32768, 32767).astype(np.int16)

    # ---------------------------------------------------------------- receiving
    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                now = time.perf_counter()
                if isinstance(message, bytes):
                    pcm = from_bytes(message)
                    self.received.audio.append((now, pcm))
                    self._playback = np.concatenate((self._playback, pcm))
                else:
                    event = ev.parse_server_event(json.loads(message))
                    self.received.events.append(event)
                    self.received.event_times.append(now)
                    if isinstance(event, ev.Clear):
                        self._playback = np.zeros(0, dtype=np.int16)
                    elif isinstance(event, ev.PlaybackMark):
                        await self._ws.send(event.model_dump_json())
                self._changed.set()
                self._changed = anyio.Event()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self._ws.close_code is not None:
                self.received.close_code = self._ws.close_code
                self.received.close_reason = self._ws.close_reason or ""
            self._receiving_done.set()
            self._changed.set()

    async def wait_for(self, predicate: Any, *, timeout: float = 30.0, start: int = 0) -> Any:
        """Wait for the first event (from index ``start``) matching ``predicate``.

        Raises :class:`CallClosed` if the connection closes first (after every event that arrived
        before the close has been looked at).
        """
        with anyio.fail_after(timeout):
            while True:
                for e in self.received.events[start:]:
                    if predicate(e):
                        return e
                if self._receiving_done.is_set():
                    raise CallClosed(self.received.close_code, self.received.close_reason)
                await self._changed.wait()

    async def wait_closed(self, timeout: float = 30.0) -> None:
        """Wait until the connection has closed and every message that came before the close is in ``received``."""
        assert self._ws is not None
        with anyio.fail_after(timeout):
            await self._ws.wait_closed()
            await self._receiving_done.wait()
