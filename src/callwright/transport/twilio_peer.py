"""Plays Twilio's side of a Media Stream, for tests.

It is our implementation of the webhooks and Media Streams messages Twilio documents, on loopback:
"as Twilio does" below means as Twilio's documentation describes, not as checked against Twilio.

It sends ``connected``/``start``/``media``/``stop`` as Twilio does (8 kHz μ-law, 20 ms per
message, sequence numbers, timestamps), keeps a playback buffer of what the server sent, plays it in
real time, echoes each ``mark`` once the audio before it has played, and on ``clear`` drops the
buffer and echoes the pending marks (as Twilio does).

:meth:`TwilioPeer.answer` starts where Twilio starts: it requests the voice webhook (TwiML) and
connects to the ``<Stream>`` it names. When the server ends the stream, :meth:`follow_action`
requests the ``<Connect action>`` URL as Twilio does, and returns the TwiML it got (``<Dial>`` for
a transfer, ``<Hangup/>`` otherwise). :meth:`answer_dial` plays the person who picks up: it requests
each ``<Number url>`` as Twilio does once the dialled party answers (the whisper), and returns what
that party would hear before being connected.

Given the account's ``auth_token``, it signs every request as Twilio does (``X-Twilio-Signature``
on the webhooks and on the stream's WebSocket upgrade), and it passes the ``<Stream>``'s
``<Parameter>`` elements back in ``start.customParameters``, as Twilio does.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..audio.codecs import mulaw_decode, mulaw_encode
from ..audio.pcm import Pcm
from .twilio_security import signature

FRAME = 160  # 20 ms at 8 kHz


@dataclass
class TwilioLog:
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    played: list[Pcm] = field(default_factory=list)  # what the "phone" actually played, frame by frame
    marks_echoed: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)  # every TwiML document the server answered, in order

    def of(self, event: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m.get("event") == event]

    def received_audio(self) -> Pcm:
        chunks = [mulaw_decode(base64.b64decode(m["media"]["payload"])) for m in self.of("media")]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class Dialled:
    """A ``<Dial>`` answered: the number, the whisper TwiML its ``url`` returned, and the ``<Say>`` texts in it."""

    number: str
    whisper: str | None
    said: list[str]


class TwilioPeer:
    def __init__(
        self,
        url: str,
        *,
        caller: str = "+15551230000",
        called: str = "+15559870000",
        action_url: str | None = None,
        auth_token: str | None = None,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.auth_token = auth_token  # signs requests as Twilio does, when given
        self.parameters = parameters if parameters is not None else {"caller": caller, "called": called}
        self.caller = caller
        self.called = called
        self.action_url = action_url  # <Connect action>: requested once the stream has ended
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.call_sid = "CA" + uuid.uuid4().hex
        self.log = TwilioLog()
        self._seq = 0
        self._chunk = 0
        self._buffer: list[tuple[Pcm | None, str | None]] = []  # queued frames and marks, in order
        self._ws: ClientConnection | None = None
        self._tg: Any = None
        self.closed = anyio.Event()

    @classmethod
    async def answer(
        cls, voice_url: str, *, caller: str = "+15551230000", called: str = "+15559870000", auth_token: str | None = None
    ) -> TwilioPeer:
        """A peer for the stream that the TwiML at ``voice_url`` (``.../twilio/voice``) connects to.

        The webhook is requested as Twilio does for an incoming call (a form POST with the CallSid);
        enter the returned peer with ``async with`` to open the stream.
        """
        peer = cls("", caller=caller, called=called, auth_token=auth_token)
        twiml = await peer._request(voice_url, CallStatus="ringing")
        root = ET.fromstring(twiml)
        connect = root.find("Connect")
        stream = connect.find("Stream") if connect is not None else None
        if connect is None or stream is None or not stream.get("url"):
            raise ValueError(f"{voice_url} did not answer <Connect><Stream url=...>: {twiml}")
        peer.url = str(stream.get("url"))
        peer.parameters = {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}
        peer.action_url = connect.get("action")
        return peer

    async def _request(self, url: str, **fields: str) -> str:
        form = {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": self.called,
            "Direction": "inbound",
            **fields,
        }
        headers = {"X-Twilio-Signature": signature(self.auth_token, url, form)} if self.auth_token else {}
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(url, data=form, headers=headers)
        response.raise_for_status()
        self.log.twiml.append(response.text)
        return response.text

    async def follow_action(self, timeout: float = 10.0) -> str:
        """Wait for the server to end the stream, then request the action URL; return its TwiML."""
        if not self.action_url:
            raise ValueError("the TwiML named no <Connect action>, so Twilio would just hang up")
        with anyio.fail_after(timeout):
            await self.closed.wait()
        return await self._request(self.action_url, CallStatus="in-progress")

    async def answer_dial(self, twiml: str) -> Dialled:
        """The person at the ``<Dial>`` in ``twiml`` picks up: Twilio requests the ``<Number url>``
        (for the new call leg, with ``ParentCallSid``) and runs its TwiML for them before bridging."""
        dial = ET.fromstring(twiml).find("Dial")
        if dial is None:
            raise ValueError(f"no <Dial> to answer: {twiml}")
        number = dial.find("Number")
        to = (number.text if number is not None else dial.text) or ""
        url = number.get("url") if number is not None else None
        if not url:
            return Dialled(to.strip(), None, [])
        whisper = await self._request(
            url, CallSid="CA" + uuid.uuid4().hex, ParentCallSid=self.call_sid, To=to.strip(), Direction="outbound-dial",
            CallStatus="in-progress",
        )
        said = [el.text or "" for el in ET.fromstring(whisper) if el.tag == "Say"]
        return Dialled(to.strip(), whisper, said)

    async def __aenter__(self) -> TwilioPeer:
        headers = {"X-Twilio-Signature": signature(self.auth_token, self.url)} if self.auth_token else None
        self._ws = await connect(self.url, max_size=2**22, additional_headers=headers)
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": "AC" + "0" * 32,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": self.stream_sid,
            }
        )
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._receive)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._ws is not None
        try:
            await self._ws.close()
        finally:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        if self.closed.is_set():
            return  # the server ended the stream: like Twilio, send nothing more on it
        self._seq += 1
        try:
            await self._ws.send(json.dumps({"sequenceNumber": str(self._seq), **message}))
        except websockets.ConnectionClosed:
            pass  # closing under us; the receiver sees it and sets ``closed``

    async def speak(self, pcm8k: Pcm) -> None:
        """Send caller audio (8 kHz PCM16) in real time; meanwhile 'play' what the server sent."""
        start = time.perf_counter()
        for n, i in enumerate(range(0, pcm8k.size, FRAME), start=1):
            if self.closed.is_set():
                return
            chunk = pcm8k[i : i + FRAME]
            if chunk.size < FRAME:
                chunk = np.concatenate((chunk, np.zeros(FRAME - chunk.size, dtype=np.int16)))
            self._chunk += 1
            await self._send(
                {
                    "event": "media",
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(self._chunk),
                        "timestamp": str(self._chunk * 20),
                        "payload": base64.b64encode(mulaw_encode(chunk)).decode(),
                    },
                }
            )
            await self._play_one()
            delay = start + n * 0.02 - time.perf_counter()
            if delay > 0:
                await anyio.sleep(delay)

    async def silence(self, seconds: float) -> None:
        await self.speak(np.zeros(int(seconds * 8000), dtype=np.int16))

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self._send({"event": "stop", "streamSid": self.stream_sid, "stop": {"accountSid": "AC", "callSid": self.call_sid}})

    async def _play_one(self) -> None:
        """Play one 20 ms frame of the buffer; echo marks that precede the next frame."""
        while self._buffer and self._buffer[0][0] is None:
            _, mark = self._buffer.pop(0)
            await self._echo_mark(mark)
        if self._buffer:
            frame, _ = self._buffer.pop(0)
            assert frame is not None
            self.log.played.append(frame)
            while self._buffer and self._buffer[0][0] is None:
                _, mark = self._buffer.pop(0)
                await self._echo_mark(mark)
        else:
            self.log.played.append(np.zeros(FRAME, dtype=np.int16))

    async def _echo_mark(self, name: str | None) -> None:
        if name is None:
            return
        self.log.marks_echoed.append(name)
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                self.log.messages.append((time.perf_counter(), message))
                kind = message.get("event")
                if kind == "media":
                    self._buffer.append((mulaw_decode(base64.b64decode(message["media"]["payload"])), None))
                elif kind == "mark":
                    self._buffer.append((None, message["mark"]["name"]))
                elif kind == "clear":
                    self.log.clears.append(time.perf_counter())
                    pending = [m for f, m in self._buffer if f is None]
                    self._buffer.clear()
                    for name in pending:
                        await self._echo_mark(name)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
