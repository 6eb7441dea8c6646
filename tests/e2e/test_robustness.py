"""Bad input and call endings over a real server: each bad client gets a precise error and close code,
every call ends cleanly, and a second call on the same server carries on unharmed throughout."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callwright import events as ev
from callwright.client import CallClient
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.settings import Settings
from callwright.voice.call import Engines

pytestmark = pytest.mark.slow


def fake_engines() -> Engines:
    return Engines(FakeStt(lambda seconds: "what are your opening hours"), FakeTts(ms_per_char=10), EnergyVad())


def ws(base: str, path: str = "/ws") -> str:
    return base.replace("http://", "ws://") + path


async def bad_client(url: str, *messages: str | bytes) -> tuple[list[dict[str, object]], int | None]:
    """Send ``messages`` and collect what comes back until the server closes."""
    got: list[dict[str, object]] = []
    async with connect(url) as sock:
        try:
            for m in messages:
                await sock.send(m)
            with anyio.fail_after(10):
                async for reply in sock:
                    if isinstance(reply, str):
                        got.append(json.loads(reply))
        except ConnectionClosed:
            pass
        return got, sock.close_code


START = json.dumps({"type": "call.start", "sample_rate": 16000})


@pytest.mark.parametrize(
    ("messages", "code", "close"),
    [
        ((START, "x" * 70_000), "too_large", 1009),
        ((START, '{"type": "teleport"}'), "unknown_event", 1008),
        ((START, "{this is not json"), "bad_json", 1007),
        ((START, b"\x01\x02\x03"), "bad_audio", 1003),  # odd length: not PCM16
        ((START, b"\x00" * 64_000), "bad_audio", 1003),  # 2 s in one frame: not the declared 20 ms framing
        ((json.dumps({"type": "call.start", "sample_rate": 44100}),), "bad_format", 1003),
        ((b"\x00" * 640,), "no_start", 1008),  # audio before call.start
        (('{"type": "caller.text", "text": "hi"}',), "no_start", 1008),
    ],
)
async def test_bad_input_is_refused_precisely_while_another_call_carries_on(
    tmp_path: Path, live_server, messages: tuple[str | bytes, ...], code: str, close: int
) -> None:
    with live_server(Settings.load(port=0, trace_dir=str(tmp_path)), fake_engines()) as base:
        async with CallClient(ws(base)) as good:
            await good.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
            got, close_code = await bad_client(ws(base), *messages)
            errors = [m for m in got if m.get("type") == "error"]
            assert errors and errors[-1]["code"] == code, got
            assert errors[-1]["message"]  # a sentence saying what was wrong
            assert close_code == close
            # the good call is unharmed: it still gets answered
            await good.send_event(ev.CallerText(text="what are your opening hours"))
            reply = await good.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=20)
            assert "eight in the morning" in reply.text
            async with httpx.AsyncClient() as http:
                health = (await http.get(base + "/healthz")).json()
            assert health["calls"] == 1


async def test_calls_end_on_hangup_vanished_client_and_idle_timeout(tmp_path: Path, live_server) -> None:
    settings = Settings.load(port=0, trace_dir=str(tmp_path), idle_timeout_s=1.5)
    with live_server(settings, fake_engines()) as base:
        async with httpx.AsyncClient() as http:
            # hang-up
            async with CallClient(ws(base)) as c:
                await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
                await c.hangup()
                assert (await c.wait_for(lambda e: isinstance(e, ev.CallEnded))).reason == "hangup"
            # a client that vanishes without closing (TCP reset)
            c = CallClient(ws(base))
            await c.__aenter__()
            await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
            assert c._ws is not None
            c._ws.transport.abort()
            await c.__aexit__(None, None, None)
            # idle timeout: connected, silent
            async with CallClient(ws(base)) as c:
                ended = await c.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=15)
                assert ended.reason == "idle_timeout"
                await c.wait_closed()
                assert c.received.close_code == 1000
            with anyio.fail_after(10):
                while (await http.get(base + "/healthz")).json()["calls"]:
                    await anyio.sleep(0.05)
            # many calls, one after another: none lingers
            for _ in range(25):
                async with CallClient(ws(base)) as c:
                    await c.send_event(ev.CallerText(text="bye"))
                    await c.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=10)
            with anyio.fail_after(10):
                while (health := (await http.get(base + "/healthz")).json())["calls"]:
                    await anyio.sleep(0.05)
            assert health["finished"] == 28
    reasons = []
    for path in tmp_path.glob("*.jsonl"):
        last = json.loads(path.read_text().splitlines()[-1])
        reasons.append(last["reason"])
    assert sorted(set(reasons)) == ["agent_hangup", "client_gone", "hangup", "idle_timeout"]
    assert len(reasons) == 28


async def test_capacity_refuses_new_calls_clearly(tmp_path: Path, live_server) -> None:
    with live_server(Settings.load(port=0, trace_dir="", max_calls=1), fake_engines()) as base:
        async with CallClient(ws(base)) as first:
            await first.wait_for(lambda e: isinstance(e, ev.CallStarted))
            got, close_code = await bad_client(ws(base), START)
            assert got[-1]["code"] == "capacity" and close_code == 1013
            assert "capacity" in str(got[-1]["message"])


async def test_token_is_required_beyond_loopback_settings(tmp_path: Path, live_server) -> None:
    with live_server(Settings.load(port=0, trace_dir="", token="s3cret"), fake_engines()) as base:
        with pytest.raises(InvalidStatus):  # the handshake is refused (HTTP 403)
            async with CallClient(ws(base)) as c:
                pass
        async with CallClient(ws(base), token="s3cret") as c:
            assert c.started is not None
        async with httpx.AsyncClient() as http:
            assert (await http.get(base + "/twilio/voice")).status_code == 401
            twiml = (await http.post(base + "/twilio/voice?token=s3cret", data={"CallSid": "CA1", "From": "+15551234567"})).text
        assert "<Connect action=" in twiml and "<Stream" in twiml and "+15551234567" in twiml and "token=s3cret" in twiml
