"""A call handed to a person, and what ``call.start`` says about a call, over the native protocol.

A real server on a real socket (uvicorn), the order desk folder with its SQLite store, and typed
caller turns (``caller.text``) with fake speech engines: these tests are about what the agent does
and what the protocol carries, not about speech (tests/e2e/test_agent_voice.py covers that, with
the warm transfer over Twilio).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from callwright import events as ev
from callwright.client import CallClient
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.observe.trace import read_trace
from callwright.settings import Settings
from callwright.voice.call import Engines

ORDER_DESK = Path(__file__).resolve().parents[2] / "examples" / "agents" / "order-desk"
SAM = "+14155550123"  # the order desk's lookup hook knows him as Sam
COLLEAGUE = "+15551230000"  # the order desk's transfer_to
TURN_S = 60.0


def fake_engines() -> Engines:
    return Engines(FakeStt(["hello"]), FakeTts(ms_per_char=2), EnergyVad())


def settings(tmp_path: Path, **more: Any) -> Settings:
    return Settings.load(
        port=0, data_dir=str(tmp_path), trace_dir=str(tmp_path / "traces"), store_url="", queue_url="", redis_url="", link_secret="",
        **more,
    )  # fmt: skip


def ws(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws"


async def typed(client: CallClient, text: str, turn: int) -> str:
    await client.send_event(ev.CallerText(text=text))
    reply = await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == turn, timeout=TURN_S)
    return str(reply.text)


async def test_the_transfer_event_carries_the_summary_for_the_person(tmp_path: Path, live_server: Any) -> None:
    with live_server(settings(tmp_path, agent=str(ORDER_DESK)), fake_engines()) as base:
        async with CallClient(ws(base), caller=SAM) as client:
            await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=TURN_S)  # the greeting
            assert "seven in the morning" in await typed(client, "what time do you open", 1)
            assert await typed(client, "I want to talk to a real person", 2) == "Of course. I'm connecting you to a colleague now."
            ended = await client.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=TURN_S)
            call_id = client.started.call_id if client.started else ""
        (transfer,) = client.received.of(ev.Transfer)
    assert ended.reason == "transfer"
    assert transfer.to == COLLEAGUE and transfer.mode == "transfer"
    # who is calling, what they asked, what was done
    assert transfer.summary == (
        "Transferred call from Sam, on 415-555-0123. Reason: the caller asked for a person. "
        'They said: "what time do you open", then "I want to talk to a real person". Done so far: hours.'
    ), transfer.summary
    trace = read_trace(tmp_path / "traces" / f"{call_id}.jsonl")
    (kept,) = [e for e in trace if isinstance(e, ev.Transfer)]
    assert kept.summary == transfer.summary  # the trace keeps what the person was told


async def test_call_start_chooses_the_agent_and_its_metadata_reach_the_agent_and_the_trace(tmp_path: Path, live_server: Any) -> None:
    with live_server(settings(tmp_path, agent=str(ORDER_DESK)), fake_engines()) as base:
        async with CallClient(ws(base), caller=SAM, agent="order-desk", metadata={"campaign": "spring", "crm_id": "42"}) as client:
            started = client.started
            await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=TURN_S)
            await client.hangup()
        assert started is not None and started.agent == "order-desk"
        assert started.metadata == {"campaign": "spring", "crm_id": "42"}
        with anyio.fail_after(15):
            while '"call.ended"' not in (tmp_path / "traces" / f"{started.call_id}.jsonl").read_text():
                await anyio.sleep(0.05)
        (kept,) = [e for e in read_trace(tmp_path / "traces" / f"{started.call_id}.jsonl") if isinstance(e, ev.CallStarted)]
        assert kept.metadata == started.metadata

        got: list[dict[str, Any]] = []
        async with connect(ws(base)) as sock:  # an agent this server does not serve: refused, clearly
            await sock.send(json.dumps({"type": "call.start", "sample_rate": 16000, "agent": "recovery-line"}))
            try:
                with anyio.fail_after(10):
                    async for reply in sock:
                        got.append(json.loads(reply))
            except ConnectionClosed:
                pass
            close_code = sock.close_code
        assert [(e["type"], e["code"]) for e in got] == [("error", "unknown_agent")]
        assert got[0]["message"] == "agent 'recovery-line' is not served here; this server serves 'order-desk'"
        assert close_code == 1008
        async with CallClient(ws(base), caller=SAM) as client:  # and the server goes on serving
            assert client.started is not None and client.started.agent == "order-desk"


async def test_the_default_front_desk_transfers_when_it_says_so_and_never_claims_an_order(tmp_path: Path, live_server: Any) -> None:
    with live_server(settings(tmp_path), fake_engines()) as base:  # no transfer number: it says it cannot
        async with CallClient(ws(base), caller=SAM) as client:
            await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=TURN_S)
            order = await typed(client, "where is my order 4567", 1)
            person = await typed(client, "can I talk to a person", 2)
            await client.hangup()
        assert order == "Sorry, I can't look up orders on this line, so I can't tell you where order four five six seven is."
        assert person == "I'm sorry, I can't put you through to a person on this line."
        assert not client.received.of(ev.Transfer)

    with live_server(settings(tmp_path, transfer_to=COLLEAGUE), fake_engines()) as base:
        async with CallClient(ws(base), caller=SAM) as client:
            await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=TURN_S)
            said = await typed(client, "can I talk to a person", 1)
            ended = await client.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=TURN_S)
        (transfer,) = client.received.of(ev.Transfer)
    assert said == "Of course. I'll connect you to a member of our team."
    assert ended.reason == "transfer" and transfer.to == COLLEAGUE
    assert transfer.summary == f'Transferred call from {SAM}. They said: "can I talk to a person".'


async def test_a_call_live_when_the_server_stops_ends_with_reason_shutdown(tmp_path: Path, live_server: Any) -> None:
    with live_server(settings(tmp_path), fake_engines()) as base:
        client = CallClient(ws(base), caller=SAM)
        await client.__aenter__()
        await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=TURN_S)
        call_id = client.started.call_id if client.started else ""
    try:  # the server stopped with the call live: uvicorn closed its WebSocket with 1012
        await client.wait_closed(timeout=10)
    finally:
        await client.__aexit__(None, None, None)
    ended = read_trace(tmp_path / "traces" / f"{call_id}.jsonl")[-1]
    assert isinstance(ended, ev.CallEnded) and ended.reason == "shutdown", ended
    assert ended.dropped_frames == 0
