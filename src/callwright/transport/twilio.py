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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import events as ev
from ..audio.codecs import mulaw_decode, mulaw_encode
from ..audio.pcm import Pcm
from ..errors import ProtocolError
from .outbox import Outbox, gone
from .session import run_session
from .transfers import TransferError
from .twilio_security import STREAM_TOKEN_PARAMETER

if TYPE_CHECKING:
    from .host import PhoneHost

log = logging.getLogger("callwright.transport")
TWILIO_RATE = 8000
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
TRANSFER_MARK = "callwright.transfer"
TRANSFER_RECORD_TIMEOUT_S = 5.0
TRANSFER_PLAYOUT_TIMEOUT_S = 15.0  # close the stream even if Twilio never echoes the mark
START_TIMEOUT_S = 10.0
KEYPAD = "0123456789*#ABCD"
MAX_MEDIA_PAYLOAD = 8000  # bytes of μ-law: 1 s at 8 kHz (Twilio sends 20 ms per message)


def twiml_connect(
    stream_url: str, caller: str | None, called: str | None = None, *, action: str | None = None, stream_token: str | None = None
) -> str:
    """``<Connect><Stream>``; with ``action``, Twilio requests that URL when the stream ends.

    ``stream_token`` goes to the stream as a ``<Parameter>`` (Twilio takes no query string in a
    ``<Stream url>``): the stream must present it in its ``start`` message.
    """
    pairs = (("caller", caller), ("called", called), (STREAM_TOKEN_PARAMETER, stream_token))
    params = "".join(f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in pairs if v)
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

    def transfer(self, to: str, summary: str = "") -> bool:
        """Hand the caller to ``to`` once the audio sent so far has played (see :class:`SupportsTransfer`);
        the stream ends then, and with it the call."""
        if self.transfer_to is not None:
            log.warning("stream %s: a transfer is already under way; ignoring another one", self.stream_sid)
            return True
        self.transfer_to = to
        self.transfer_summary = summary
        self.transfer_requested.set()
        return True


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


def _object(data: dict[str, Any], name: str, where: str, *, required: bool = True) -> dict[str, Any]:
    """``data[name]`` as a JSON object ({} when absent and not required), or a ``bad_event`` error."""
    value = data.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: field '{name}' must be a JSON object, not {_kind(value)}", code="bad_event")
    return value


def _text(data: dict[str, Any], name: str, where: str) -> str:
    """``data[name]`` as a string ('' when absent), or a ``bad_event`` error."""
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: field '{name}' must be a string, not {_kind(value)}", code="bad_event")
    return value


def _kind(value: Any) -> str:
    return "missing" if value is None else {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


@dataclass(frozen=True)
class StreamStart:
    """What Twilio's ``start`` message says about the stream."""

    stream_sid: str
    call_sid: str
    parameters: dict[str, str]


def parse_start(data: dict[str, Any]) -> StreamStart:
    """The ``start`` message checked field by field; a ``ProtocolError`` names the first bad one."""
    start = _object(data, "start", "start")
    fmt = _object(start, "mediaFormat", "start", required=False)
    if fmt:
        rate = fmt.get("sampleRate")
        if fmt.get("encoding") != "audio/x-mulaw" or isinstance(rate, bool) or rate not in (TWILIO_RATE, str(TWILIO_RATE)):
            raise ProtocolError(
                f"unsupported media format {json.dumps(fmt)[:200]}; expected audio/x-mulaw at 8000 Hz", code="bad_format", close_code=1003
            )
    raw_params = _object(start, "customParameters", "start", required=False)
    parameters = {}
    for key, value in raw_params.items():
        if not isinstance(value, str):
            raise ProtocolError(f"start: customParameters.{key[:40]} must be a string, not {_kind(value)}", code="bad_event")
        parameters[key] = value
    stream_sid = _text(data, "streamSid", "start") or _text(start, "streamSid", "start")
    return StreamStart(stream_sid, _text(start, "callSid", "start"), parameters)


async def _first_start(ws: WebSocket) -> StreamStart:
    """Read ``connected`` messages up to the ``start`` message."""
    with anyio.fail_after(START_TIMEOUT_S):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            first = _parse(message.get("text"))
            if first["event"] == "connected":
                continue
            if first["event"] != "start":
                raise ProtocolError(f"expected 'start', got {first['event'][:40]!r}", code="no_start")
            return parse_start(first)


async def serve_twilio(ws: WebSocket, server: PhoneHost) -> None:
    await ws.accept()
    try:
        try:
            start = await _first_start(ws)
        except TimeoutError:
            raise ProtocolError(f"no 'start' message within {START_TIMEOUT_S:.0f} s", code="no_start") from None
        token = start.parameters.get(STREAM_TOKEN_PARAMETER, "")
        try:
            allowed = bool(start.call_sid and token) and await server.twilio_calls.stream_allowed(start.call_sid, token)
        except Exception:  # the bus backend (Redis) failed: the stream cannot be checked, so it is refused
            log.exception("twilio stream for CallSid %s: could not read its mark on the call bus", start.call_sid[:64])
            raise ProtocolError("the call bus failed; try again", code="bus", close_code=1011) from None
        if not allowed:
            raise ProtocolError(
                "this stream was not started by this server's TwiML (no or wrong callwright_token for its callSid)",
                code="forbidden",
            )
    except ProtocolError as err:
        log.info("twilio stream refused: %s (%s)", err.message, err.code)
        try:
            await ws.close(code=err.close_code, reason=err.code)
        except (RuntimeError, OSError):
            pass
        return
    except WebSocketDisconnect:
        return
    if not server.has_capacity():
        await ws.close(code=1013, reason="capacity")
        return
    params = start.parameters
    outbox = Outbox(ws, on_overflow=lambda: call.hangup("client_gone"))
    io = TwilioIO(outbox, start.stream_sid, start.call_sid)
    call = server.new_call(io, caller=params.get("caller") or params.get("From"), transport="twilio")
    close: tuple[int, str] = (1000, "call ended")

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
        nonlocal close
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    call.hangup(gone(message))
                    return
                data = _parse(message.get("text"))
                kind = data["event"]
                if kind == "media":
                    media = _object(data, "media", "media")
                    try:
                        payload = base64.b64decode(_text(media, "payload", "media"), validate=True)
                    except (binascii.Error, ValueError) as exc:
                        raise ProtocolError(f"media payload is not base64 μ-law ({exc})", code="bad_audio", close_code=1003) from None
                    if len(payload) > MAX_MEDIA_PAYLOAD:
                        raise ProtocolError(
                            f"media payload of {len(payload)} bytes is longer than 1 s of 8 kHz μ-law ({MAX_MEDIA_PAYLOAD} bytes)",
                            code="bad_audio",
                            close_code=1003,
                        )
                    call.push_audio(mulaw_decode(payload))
                elif kind == "mark":
                    name = _text(_object(data, "mark", "mark"), "name", "mark")
                    if name == TRANSFER_MARK:
                        io.transfer_played.set()
                    else:
                        call.mark_played(name)
                elif kind == "dtmf":
                    digit = _text(_object(data, "dtmf", "dtmf"), "digit", "dtmf")
                    if len(digit) != 1 or digit not in KEYPAD:
                        raise ProtocolError(f"dtmf: digit {digit[:20]!r} is not a key of a phone keypad ({KEYPAD})", code="bad_event")
                    call.push_text(digit, source="dtmf")
                elif kind == "stop":
                    call.hangup("hangup")
                    return
                else:
                    log.debug("call %s: ignoring Twilio event %r", call.id, kind[:40])
        except ProtocolError as err:
            log.info("call %s: %s (%s)", call.id, err.message, err.code)
            call.emit(ev.ErrorEvent(code=err.code, message=err.message, fatal=True))
            close = (err.close_code, err.code)
            call.hangup("error")
        except WebSocketDisconnect as exc:
            call.hangup(gone({"code": exc.code}))

    await run_session(ws, outbox, server, call, [read, hand_over], lambda: close)
