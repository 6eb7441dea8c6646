"""Generated sessions for both wire protocols (hypothesis strategies), and the checks each must pass.

Used by tests/transport/test_wire_fuzz.py (a few hundred messages) and benchmarks/fuzz_wire.py (at
least 100,000). A session is one connection: a first message, then messages, each tagged with
the outcomes the protocol allows for it (``OK``, or the error codes of docs/protocol.md). The
session stops at the first message that must be refused; otherwise it ends by hanging up.

What is checked, per session: the server closes the connection; if every message was acceptable,
the call ends normally (close code 1000); otherwise the first error is one the sent messages allow
and its close code is the one docs/protocol.md gives for it (native: an ``error`` event, then the
close; Twilio, which takes no events from us: the close code, with the error code as the reason).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

OK = "ok"
# docs/protocol.md, "Errors and close codes".
NATIVE_CLOSE = {"no_start": 1008, "bad_format": 1003, "bad_audio": 1003, "bad_json": 1007, "unknown_event": 1008,
                "bad_event": 1008, "too_large": 1009, "capacity": 1013}
TWILIO_CLOSE = {"no_start": 1008, "bad_format": 1003, "bad_audio": 1003, "bad_json": 1007, "bad_event": 1008,
                "bad_frame": 1003, "forbidden": 1008, "capacity": 1013}
RATES = (8000, 16000, 24000, 48000)
DRAIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Message:
    data: str | bytes
    allowed: frozenset[str]  # OK and/or error codes

    @property
    def must_fail(self) -> bool:
        return OK not in self.allowed


def _m(value: Any, *allowed: str) -> Message:
    """A JSON text frame holding ``value`` (bytes: a binary frame)."""
    return Message(value if isinstance(value, bytes) else json.dumps(value), frozenset(allowed))


def _raw(text: str, *allowed: str) -> Message:
    """A text frame sent as it is."""
    return Message(text, frozenset(allowed))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
not_objects = json_values.filter(lambda v: not isinstance(v, dict))
not_json = st.text(max_size=40).filter(lambda t: not _is_json(t))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _mostly(good: st.SearchStrategy[Message], bad: st.SearchStrategy[Message]) -> st.SearchStrategy[Message]:
    """Nine good messages in ten: a session reaches deep into a call before a bad one ends it."""
    return st.integers(0, 9).flatmap(lambda i: bad if i == 0 else good)


# ------------------------------------------------------------------------------------------ native
def native_start(rate: int) -> str:
    return json.dumps({"type": "call.start", "sample_rate": rate, "caller": "+15551230000"})


native_good = st.one_of(
    st.builds(lambda t: _m({"type": "caller.text", "text": t}, OK), st.text(max_size=30)),
    st.builds(lambda n: _m({"type": "audio.mark", "name": n}, OK), st.text(max_size=12)),
    st.builds(lambda d: _m({"type": "dtmf", "digit": d}, OK), st.sampled_from("0123456789*#")),
    st.builds(lambda n: _m(b"\x00\x01" * n, OK), st.integers(0, 160)),
)
native_bad = st.one_of(
    st.builds(lambda t: _raw(t, "bad_json"), not_json),
    st.builds(lambda v: _m(v, "bad_event"), not_objects),
    st.builds(lambda d: _m(d, "bad_event"), st.dictionaries(st.text(max_size=8).filter(lambda k: k != "type"), json_values, max_size=3)),
    st.builds(lambda t: _m({"type": t}, "unknown_event"),
              st.text(max_size=16).filter(lambda t: t not in ("call.start", "audio.mark", "caller.text", "dtmf", "hangup"))),
    st.builds(lambda t, v: _m({"type": t, "text": v, "name": v, "digit": v}, OK, "bad_event"),
              st.sampled_from(["caller.text", "audio.mark", "dtmf"]), json_values),
    st.builds(lambda r: _m({"type": "call.start", "sample_rate": r}, "bad_event"), st.sampled_from(RATES)),  # a second start
    st.builds(lambda n: _m(b"\x01" * (2 * n + 1), "bad_audio"), st.integers(0, 400)),  # odd length: not PCM16
    st.just(_m(b"\x00" * 96_002, "bad_audio")),  # over 1 s at 48 kHz, the largest rate
    st.just(_raw("x" * 70_000, "too_large")),
)
native_first_bad = st.one_of(
    st.builds(lambda t: _raw(t, "bad_json"), not_json),
    st.builds(lambda v: _m(v, "bad_event"), not_objects),
    st.builds(lambda r: _m({"type": "call.start", "sample_rate": r}, "bad_format"), st.integers().filter(lambda r: r not in RATES)),
    # pydantic may read "16000" or 16000.0 as a rate: then the call starts, and is hung up
    st.builds(lambda v: _m({"type": "call.start", "sample_rate": v}, OK, "bad_event", "bad_format"), json_values.filter(lambda v: not isinstance(v, int))),
    st.builds(lambda t: _m({"type": "caller.text", "text": t}, "no_start"), st.text(max_size=10)),
    st.builds(lambda n: _m(b"\x00" * (2 * n), "no_start"), st.integers(1, 160)),
)


@st.composite
def native_sessions(draw: st.DrawFn) -> list[Message]:
    if draw(st.integers(0, 5)) == 0:
        return [draw(native_first_bad)]
    rate = draw(st.sampled_from(RATES))
    messages = [_raw(native_start(rate), OK)]
    for message in draw(st.lists(_mostly(native_good, native_bad), max_size=30)):
        messages.append(message)
        if message.must_fail:
            break
    return messages


# ------------------------------------------------------------------------------------------ twilio
def twilio_start(call_sid: str, token: str) -> dict[str, Any]:
    return {"event": "start", "streamSid": "MZ1", "start": {
        "streamSid": "MZ1", "callSid": call_sid, "tracks": ["inbound"],
        "customParameters": {"caller": "+15551230000", "callwright_token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


TOKEN = "{token}"  # replaced by the call's stream token when sent


def _media(payload: Any) -> dict[str, Any]:
    return {"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "payload": payload}}


twilio_good = st.one_of(
    st.builds(lambda n: _m(_media(base64.b64encode(b"\xff" * n).decode()), OK), st.integers(0, 320)),
    st.builds(lambda n: _m({"event": "mark", "mark": {"name": n}}, OK), st.text(max_size=12)),
    st.builds(lambda d: _m({"event": "dtmf", "dtmf": {"digit": d}}, OK), st.sampled_from("0123456789*#")),
    st.builds(lambda e: _m({"event": e}, OK), st.text(max_size=12).filter(lambda e: e not in ("media", "mark", "dtmf", "stop", "start", "connected"))),
)
twilio_bad = st.one_of(
    st.builds(lambda t: _raw(t, "bad_json"), not_json),
    st.builds(lambda v: _m(v, "bad_event"), not_objects),
    st.builds(lambda v: _m({"event": v}, "bad_event"), json_values.filter(lambda v: not isinstance(v, str))),
    st.builds(lambda v: _m({"event": "media", "media": v}, "bad_event"), not_objects),
    st.builds(lambda v: _m(_media(v), "bad_event"), json_values.filter(lambda v: not isinstance(v, str) and v is not None)),
    st.builds(lambda t: _m(_media(t), "bad_audio"), st.text(min_size=1, max_size=20).filter(lambda t: not _is_base64(t))),
    st.just(_m(_media(base64.b64encode(b"\xff" * 8001).decode()), "bad_audio")),
    st.builds(lambda v: _m({"event": "mark", "mark": v}, "bad_event"), not_objects),
    st.builds(lambda v: _m({"event": "dtmf", "dtmf": {"digit": v}}, "bad_event"),
              json_values.filter(lambda v: not (isinstance(v, str) and len(v) == 1 and v in "0123456789*#ABCD") and v is not None)),
    st.builds(lambda b: _m(b, "bad_frame"), st.binary(max_size=40)),
)


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


def _broken_start(change: str, value: Any) -> dict[str, Any]:
    start = twilio_start("{sid}", TOKEN)
    if change == "start":
        start["start"] = value
    elif change in ("mediaFormat", "customParameters"):
        start["start"][change] = value
    return start


twilio_first_bad = st.one_of(
    st.builds(lambda c, v: _m(_broken_start(c, v), "bad_event"), st.sampled_from(["start", "mediaFormat", "customParameters"]),
              not_objects.filter(lambda v: v is not None and v != [] and v != "" and v != 0 and v is not False)),
    st.builds(lambda v: _m(_broken_start("customParameters", {"caller": v}), "bad_event"), json_values.filter(lambda v: not isinstance(v, str) and v is not None)),
    st.builds(lambda r: _m(_broken_start("mediaFormat", {"encoding": "audio/x-mulaw", "sampleRate": r}), "bad_format"),
              json_values.filter(lambda r: r != 8000 and r != "8000")),
    st.just(_m(_broken_start("customParameters", {"caller": "+1555"}), "forbidden")),  # no token
    st.builds(lambda e: _m({"event": e}, "no_start"), st.text(max_size=10).filter(lambda e: e not in ("start", "connected"))),
    st.builds(lambda t: _raw(t, "bad_json"), not_json),
    st.builds(lambda b: _m(b, "bad_frame"), st.binary(max_size=20)),
)


@st.composite
def twilio_sessions(draw: st.DrawFn) -> list[Message]:
    messages = [_m({"event": "connected", "protocol": "Call", "version": "1.0.0"}, OK)]
    if draw(st.integers(0, 5)) == 0:
        return [*messages, draw(twilio_first_bad)]
    messages.append(_m(twilio_start("{sid}", TOKEN), OK))
    for message in draw(st.lists(_mostly(twilio_good, twilio_bad), max_size=30)):
        messages.append(message)
        if message.must_fail:
            break
    return messages


# ------------------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    sent: int
    close_code: int | None
    error: str | None  # the error code the server gave (native: error event; Twilio: close reason)
    problem: str | None  # why the outcome breaks the protocol's rules, or None


def judge(messages: list[Message], close_code: int | None, error: str | None, table: dict[str, int]) -> str | None:
    allowed = set().union(*(m.allowed for m in messages)) - {OK}
    if error is None:
        if any(m.must_fail for m in messages):
            return f"no error for a message that must be refused ({messages[-1].data[:80]!r}); close {close_code}"
        return None if close_code == 1000 else f"all messages acceptable, but closed with {close_code}"
    if error not in allowed:
        return f"error {error!r} not among {sorted(allowed)} for {[m.data[:60] for m in messages]!r}"
    if close_code != table[error]:
        return f"error {error!r} closed with {close_code}, documented {table[error]}"
    return None


async def _drain(sock: Any, errors: list[str]) -> None:
    with anyio.move_on_after(DRAIN_TIMEOUT_S) as waited:
        try:
            async for reply in sock:
                if isinstance(reply, str) and '"error"' in reply:
                    event = json.loads(reply)
                    if event.get("type") == "error" and event.get("fatal"):
                        errors.append(event["code"])
        except ConnectionClosed:
            pass
    if waited.cancelled_caught:
        errors.append(f"the server did not close within {DRAIN_TIMEOUT_S:.0f} s")
        await sock.close()


async def run_native(base: str, messages: list[Message]) -> Outcome:
    errors: list[str] = []
    async with connect(base.replace("http://", "ws://") + "/ws", max_size=2**22) as sock:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drain, sock, errors)
            try:
                for message in messages:
                    await sock.send(message.data)
                if not messages[-1].must_fail:
                    await sock.send(json.dumps({"type": "hangup"}))
            except ConnectionClosed:
                pass
    error = errors[0] if errors else None
    return Outcome(len(messages), sock.close_code, error, judge(messages, sock.close_code, error, NATIVE_CLOSE))


async def run_twilio(base: str, http: httpx.AsyncClient, messages: list[Message], n: int) -> Outcome:
    call_sid = f"CA{n:032d}"
    twiml = (await http.post(f"{base}/twilio/voice", data={"CallSid": call_sid})).text
    token = twiml.split('name="callwright_token" value="')[1].split('"')[0]
    timeouts: list[str] = []
    async with connect(base.replace("http://", "ws://") + "/twilio/stream", max_size=2**22) as sock:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drain, sock, timeouts)
            try:
                for message in messages:
                    data = message.data
                    if isinstance(data, str):
                        data = data.replace("{sid}", call_sid).replace(TOKEN, token)
                    await sock.send(data)
                if not messages[-1].must_fail:
                    await sock.send(json.dumps({"event": "stop", "streamSid": "MZ1"}))
            except ConnectionClosed:
                pass
    reason = sock.close_reason or None
    error = timeouts[0] if timeouts else None if reason in (None, "call ended") else reason
    return Outcome(len(messages), sock.close_code, error, judge(messages, sock.close_code, error, TWILIO_CLOSE))
