"""Callwright's own WebSocket protocol (see docs/protocol.md).

* The client opens ``/ws`` and sends ``call.start`` (JSON) naming its sample rate.
* Binary frames, both ways: PCM16 little-endian mono at that rate. Text frames: JSON events.
* ``audio.clear`` tells the client to drop agent audio it buffered (barge-in); the client echoes
  ``audio.mark`` events once the audio before them has played.
* Bad input ends the connection with an ``error`` event and a specific close code; it never
  disturbs other calls.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import events as ev
from ..audio.pcm import Pcm, from_bytes, to_bytes
from ..errors import ConfigError, ProtocolError
from .outbox import Outbox, gone
from .session import run_session

if TYPE_CHECKING:
    from .host import CallHost

log = logging.getLogger("callwright.transport")
START_TIMEOUT_S = 10.0
MAX_AUDIO_FRAME_MS = 1000


class NativeIO:
    def __init__(self, outbox: Outbox, sample_rate: int) -> None:
        self.input_rate = sample_rate
        self.output_rate = sample_rate
        self._out = outbox

    def send_audio(self, pcm: Pcm) -> None:
        self._out.put(to_bytes(pcm))

    def send_event(self, event: ev.Event) -> None:
        self._out.put(event.model_dump_json())

    def clear(self) -> None:
        pass  # the Clear event below is the signal on this protocol

    def send_mark(self, name: str) -> None:
        pass  # the audio.mark event itself (sent by send_event) is the mark on this protocol

    def transfer(self, to: str, summary: str = "") -> bool:
        return False  # no phone line to hand over: the client learns of it (and its summary) from the transfer event


async def _refuse(ws: WebSocket, err: ProtocolError) -> None:
    log.info("native client refused: %s (%s)", err.message, err.code)
    try:
        await ws.send_text(ev.ErrorEvent(code=err.code, message=err.message, fatal=True).model_dump_json())
        await ws.close(code=err.close_code, reason=err.code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def _first_message(ws: WebSocket) -> ev.CallStart:
    with anyio.fail_after(START_TIMEOUT_S):
        message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("bytes") is not None:
        raise ProtocolError("audio arrived before call.start; send call.start first", code="no_start")
    start = ev.parse_client_event(message.get("text") or "")
    if not isinstance(start, ev.CallStart):
        raise ProtocolError(f"first event must be call.start, not {start.type}", code="no_start")
    if start.sample_rate not in ev.SAMPLE_RATES:
        raise ProtocolError(
            f"sample_rate {start.sample_rate} is not supported; use one of {', '.join(map(str, ev.SAMPLE_RATES))}",
            code="bad_format",
            close_code=1003,
        )
    return start


async def serve_native(ws: WebSocket, server: CallHost) -> None:
    await ws.accept()
    try:
        start = await _first_message(ws)
    except TimeoutError:
        await _refuse(ws, ProtocolError(f"no call.start within {START_TIMEOUT_S:.0f} s", code="no_start"))
        return
    except ProtocolError as err:
        await _refuse(ws, err)
        return
    except WebSocketDisconnect:
        return
    if not server.has_capacity():
        await _refuse(ws, ProtocolError(f"server is at capacity ({server.max_calls} calls); try again later", code="capacity", close_code=1013))
        return

    outbox = Outbox(ws, on_overflow=lambda: call.hangup("client_gone"))
    io = NativeIO(outbox, start.sample_rate)
    try:
        call = server.new_call(io, caller=start.caller, transport="websocket", agent=start.agent, metadata=start.metadata)
    except ConfigError as exc:  # call.start named an agent this server does not serve
        outbox.discard()
        await _refuse(ws, ProtocolError(exc.message, code="unknown_agent", close_code=1008))
        return
    max_frame = start.sample_rate * 2 * MAX_AUDIO_FRAME_MS // 1000
    close: tuple[int, str] = (1000, "call ended")

    async def read() -> None:
        nonlocal close
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    call.hangup(gone(message))
                    return
                data = message.get("bytes")
                if data is not None:
                    if len(data) % 2 or len(data) > max_frame:
                        raise ProtocolError(
                            f"binary frame of {len(data)} bytes is not PCM16 mono at {start.sample_rate} Hz "
                            f"(even length, at most {MAX_AUDIO_FRAME_MS} ms = {max_frame} bytes)",
                            code="bad_audio",
                            close_code=1003,
                        )
                    call.push_audio(from_bytes(data))
                    continue
                event = ev.parse_client_event(message.get("text") or "")
                if isinstance(event, ev.PlaybackMark):
                    call.mark_played(event.name)
                elif isinstance(event, ev.CallerText):
                    call.push_text(event.text)
                elif isinstance(event, ev.Dtmf):
                    call.push_text(event.digit, source="dtmf")
                elif isinstance(event, ev.HangupRequest):
                    call.hangup("hangup")
                    return
                else:
                    raise ProtocolError("call.start may be sent only once", code="bad_event")
        except ProtocolError as err:
            log.info("call %s: %s (%s)", call.id, err.message, err.code)
            call.emit(ev.ErrorEvent(code=err.code, message=err.message, fatal=True))
            close = (err.close_code, err.code)
            call.hangup("error")
        except WebSocketDisconnect as exc:
            call.hangup(gone({"code": exc.code}))

    await run_session(ws, outbox, server, call, [read], lambda: close)
