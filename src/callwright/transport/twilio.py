"""Twilio Media Streams (bidirectional, ``<Connect><Stream>``).

In: ``connected``, ``start``, ``media`` (base64 μ-law, 8 kHz), ``dtmf``, ``mark``, ``stop``.
Out: ``media``, ``mark`` (Twilio echoes it once the audio before it has played: that moves our
playback cursor) and ``clear`` (barge-in: Twilio drops what it buffered).

Warm transfer: :meth:`TwilioIO.transfer` records the number for the CallSid (see ``transfers.py``),
sends a mark, and when Twilio echoes it (the caller has heard everything before it) ends the call
with reason ``transfer`` and closes the stream. Twilio then requests the ``<Connect action>`` URL,
``/twilio/after``, which answers ``<Dial><Number url=".../twilio/whisper?call=...">``: the person
who answers first hears the call's summary (``<Say>``), then is connected.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import events as ev
from ..audio.codecs import mulaw_decode, mulaw_encode
from ..audio.pcm import Pcm
from ..errors import ProtocolError
from .outbox import Outbox, gone
from .transfers import TransferError

if TYPE_CHECKING:
    from .app import VoiceServer

log = logging.getLogger("callwright.transport")
TWILIO_RATE = 8000
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
TRANSFER_MARK = "callwright.transfer"
TRANSFER_RECORD_TIMEOUT_S = 5.0
TRANSFER_PLAYOUT_TIMEOUT_S = 15.0  # close the stream even if Twilio never echoes the mark


def twiml_connect(stream_url: str, caller: str | None, called: str | None = None, *, action: str | None = None) -> str:
    """``<Connect><Stream>``; with ``action``, Twilio requests that URL when the stream ends."""
    params = "".join(
        f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in (("caller", caller), ("called", called)) if v
    )
    connect = f"<Connect action={quoteattr(action)}>" if action else "<Connect>"
    return f"{XML_HEAD}<Response>{connect}<Stream url={quoteattr(stream_url)}>{params}</Stream></Connect></Response>"


def twiml_after(transfer_to: str | None, whisper_url: str | None = None) -> str:
    """What Twilio does once our stream has ended: dial the person, or hang up.

    With ``whisper_url``, Twilio requests that URL once the person answers and runs its TwiML for
    them alone (the summary) before connecting the caller; ``answerOnBridge`` keeps the caller
    hearing the ring tone meanwhile.
    """
    if not transfer_to:
        return f"{XML_HEAD}<Response><Hangup/></Response>"
    if whisper_url is None:
        return f"{XML_HEAD}<Response><Dial>{escape(transfer_to)}</Dial></Response>"
    number = f"<Number url={quoteattr(whisper_url)} method=\"POST\">{escape(transfer_to)}</Number>"
    return f'{XML_HEAD}<Response><Dial answerOnBridge="true">{number}</Dial></Response>'


def twiml_whisper(summary: str | None) -> str:
    """The TwiML run for the person who answers a transfer: the summary, then (on its end) nothing,
    so Twilio connects the two parties. No summary: an empty response connects them at once."""
    if not summary:
        return f"{XML_HEAD}<Response/>"
    return f"{XML_HEAD}<Response><Say>{escape(summary)}</Say></Response>"


class TwilioIO:
    input_rate = TWILIO_RATE
    output_rate = TWILIO_RATE

    def __init__(self, outbox: Outbox, stream_sid: str, call_sid: str = "") -> None:
        self._out = outbox
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.transfer_to: str | None = None
        self.transfer_summary = ""  # said to the person who answers, before the caller is connected
        self.transfer_requested = anyio.Event()
        self.transfer_played = anyio.Event()  # Twilio echoed the transfer mark

    def _send(self, payload: dict[str, Any]) -> None:
        self._out.put(json.dumps({"streamSid": self.stream_sid, **payload}))

    def send_audio(self, pcm: Pcm) -> None:
        self._send({"event": "media", "media": {"payload": base64.b64encode(mulaw_encode(pcm)).decode()}})

    def send_event(self, event: ev.Event) -> None:
        pass  # Twilio takes only media/mark/clear; events go to the trace

    def clear(self) -> None:
        self._send({"event": "clear"})

    def send_mark(self, name: str) -> None:
        self._send({"event": "mark", "mark": {"name": name}})

    def transfer(self, to: str, summary: str = "") -> None:
        """Hand the caller to ``to`` once the audio sent so far has played (see :class:`SupportsTransfer`)."""
        if self.transfer_to is not None:
            log.warning("stream %s: a transfer is already under way; ignoring another one", self.stream_sid)
            return
        self.transfer_to = to
        self.transfer_summary = summary
        self.transfer_requested.set()


def _parse(raw: str | None) -> dict[str, Any]:
    if raw is None:
        raise ProtocolError("Twilio sends text frames only; got a binary frame", code="bad_frame", close_code=1003)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"message is not valid JSON: {exc}", code="bad_json", close_code=1007) from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise ProtocolError("message must be a JSON object with an 'event' field", code="bad_event")
    return data


async def serve_twilio(ws: WebSocket, server: VoiceServer) -> None:
    await ws.accept()
    try:
        with anyio.fail_after(10):
            while True:
                first = _parse(await ws.receive_text())
                if first["event"] == "connected":
                    continue
                if first["event"] != "start":
                    raise ProtocolError(f"expected 'start', got {first['event']!r}", code="no_start")
                break
        start = first.get("start") or {}
        fmt = start.get("mediaFormat") or {}
        if fmt and (fmt.get("encoding") != "audio/x-mulaw" or int(fmt.get("sampleRate", 0)) != TWILIO_RATE):
            raise ProtocolError(f"unsupported media format {fmt}; expected audio/x-mulaw at 8000 Hz", code="bad_format", close_code=1003)
        stream_sid = str(first.get("streamSid") or start.get("streamSid") or "")
    except (TimeoutError, ProtocolError, WebSocketDisconnect, KeyError, ValueError) as exc:
        log.info("twilio stream refused: %s", exc)
        try:
            await ws.close(code=getattr(exc, "close_code", 1008))
        except (RuntimeError, OSError):
            pass
        return
    if not server.has_capacity():
        await ws.close(code=1013, reason="capacity")
        return
    params = start.get("customParameters") or {}
    outbox = Outbox(ws, on_overflow=lambda: call.hangup("client_gone"))
    io = TwilioIO(outbox, stream_sid, str(start.get("callSid") or ""))
    call = server.new_call(io, caller=params.get("caller") or params.get("From"), transport="twilio")
    close_code = 1000

    async def hand_over() -> None:
        """Record the transfer where any worker can read it, let the audio play out, end the stream."""
        while True:
            await io.transfer_requested.wait()
            to = io.transfer_to
            assert to is not None
            try:
                if not io.call_sid:
                    raise TransferError("Twilio's start message had no callSid")
                with anyio.fail_after(TRANSFER_RECORD_TIMEOUT_S):
                    await server.request_transfer(io.call_sid, to, io.transfer_summary)
                break
            except Exception as exc:  # a bad number, or the bus backend (Redis) failing: the caller stays on the line
                if isinstance(exc, TransferError):
                    reason = exc.message
                elif isinstance(exc, TimeoutError):
                    reason = f"the call bus did not answer within {TRANSFER_RECORD_TIMEOUT_S:.0f} s"
                else:
                    reason = f"the call bus failed: {type(exc).__name__}: {exc}"
                message = f"transfer to {to} failed ({reason}); the call goes on"
                log.warning("call %s: %s", call.id, message, exc_info=None if isinstance(exc, TransferError) else exc)
                call.emit(ev.ErrorEvent(code="transfer_failed", message=message, stage="transfer", retryable=not isinstance(exc, TransferError)))
                io.transfer_to, io.transfer_requested = None, anyio.Event()  # the call may try again
        io.send_mark(TRANSFER_MARK)
        with anyio.move_on_after(TRANSFER_PLAYOUT_TIMEOUT_S):
            await io.transfer_played.wait()
        log.info("call %s: handing over to a person (CallSid %s)", call.id, io.call_sid)
        call.hangup("transfer")

    async def read() -> None:
        nonlocal close_code
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    call.hangup(gone(message))
                    return
                data = _parse(message.get("text"))
                kind = data["event"]
                if kind == "media":
                    try:
                        payload = base64.b64decode(data["media"]["payload"], validate=True)
                    except (KeyError, TypeError, binascii.Error) as exc:
                        raise ProtocolError(f"media payload is not base64 μ-law ({exc})", code="bad_audio", close_code=1003) from None
                    call.push_audio(mulaw_decode(payload))
                elif kind == "mark":
                    name = str((data.get("mark") or {}).get("name", ""))
                    if name == TRANSFER_MARK:
                        io.transfer_played.set()
                    else:
                        call.mark_played(name)
                elif kind == "dtmf":
                    call.push_text(str((data.get("dtmf") or {}).get("digit", "")), source="dtmf")
                elif kind == "stop":
                    call.hangup("hangup")
                    return
                else:
                    log.debug("call %s: ignoring Twilio event %r", call.id, kind)
        except ProtocolError as err:
            call.emit(ev.ErrorEvent(code=err.code, message=err.message, fatal=True))
            close_code = err.close_code
            call.hangup("error")
        except WebSocketDisconnect as exc:
            call.hangup(gone({"code": exc.code}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        async with anyio.create_task_group() as reader:
            reader.start_soon(read)
            reader.start_soon(hand_over)
            await server.run_call(call)
            reader.cancel_scope.cancel()
        outbox.close()
        tg.cancel_scope.deadline = anyio.current_time() + 2.0
    if call.end_reason != "client_gone":
        try:
            await ws.close(code=close_code)
        except (RuntimeError, OSError, WebSocketDisconnect):
            pass  # Twilio closed first
