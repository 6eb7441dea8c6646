"""Tools on a live call: filler, progress, timeout, cancel-or-wait on barge-in, exactly one result,
idempotency. A small agent folder is written per test; calls run through a real Call."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from callwright import events as ev
from callwright.agent.runtime import AgentApp, Services
from callwright.agent.spec import load_definition
from callwright.agent.tools import ToolContext, tool, tool_spec
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.testing import LocalCall, TextCall, silence, tone
from callwright.voice.call import CallOptions, Engines

TOOLS = '''
import anyio
from callwright.agent.tools import ToolContext, tool

CALLS: list[str] = []

@tool(slow_after=0.1, timeout=0.6, filler="Let me look.", timeout_reply="Sorry, the system is slow today.")
async def stuck(ctx: ToolContext, item: str) -> str:
    CALLS.append("stuck")
    await anyio.sleep(30)
    return "never"

@tool(slow_after=0.05, timeout=5, filler="Checking.")
async def long_read(ctx: ToolContext, item: str) -> dict:
    CALLS.append("long_read")
    await ctx.progress("Still reading the first shelf.")
    await anyio.sleep(4)
    return {"text": "found"}

@tool(slow_after=0.05, timeout=5, side_effects=True, filler="Booking that now.")
async def book(ctx: ToolContext, item: str) -> dict:
    CALLS.append("book:" + str(ctx.idempotency_key))
    await anyio.sleep(1.5)
    return {"ref": "B1"}
'''

YAML = '''
name: tool-lab
persona: A test agent.
greeting: Hello.
emotion: {enabled: false}
intents:
  - name: stuck
    examples: [check the stuck system for apples]
    slots: {item: text}
    tool: stuck
    reply: Got {result}.
  - name: read
    examples: [read the long list of pears]
    slots: {item: text}
    tool: long_read
    reply: The list says {result.text}.
  - name: book
    examples: [book the room for plums]
    slots: {item: text}
    tool: book
    reply: Booked, reference {result.ref}.
'''


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    folder = tmp_path / "tool-lab"
    folder.mkdir()
    (folder / "agent.yaml").write_text(textwrap.dedent(YAML))
    (folder / "tools.py").write_text(TOOLS)
    definition = load_definition(folder)
    module = __import__("sys").modules["callwright_agent_tool_lab_tools"]
    return AgentApp(definition, Services(data_dir=tmp_path)), module


async def test_a_tool_timeout_ends_in_a_spoken_fallback_and_one_result(lab: Any) -> None:
    app, _ = lab
    async with TextCall(app.agent()) as c:
        await c.greeting()
        reply = await c.say("check the stuck system for apples")
        results = c.events(ev.ToolResult)
    assert [r.status for r in results] == ["timeout"]
    assert reply == "Let me look. Sorry, the system is slow today."


async def test_progress_is_spoken_after_the_filler(lab: Any) -> None:
    app, _ = lab
    async with TextCall(app.agent()) as c:
        await c.greeting()
        reply = await c.say("read the long list of pears")
        kinds = [p.kind for p in c.events(ev.ToolProgress)]
    assert kinds == ["progress", "filler"] or kinds == ["filler", "progress"]
    assert reply.startswith("Checking.") and "Still reading the first shelf." in reply and reply.endswith("The list says found.")


def voice_engines() -> Engines:
    # The interruption is transcribed twice: once to decide it is a barge-in, once as the caller's turn.
    script = ["read the long list of pears", "stop please I changed my mind", "stop please I changed my mind", "thanks"]
    return Engines(FakeStt(script), FakeTts(ms_per_char=60), EnergyVad())


async def test_barge_in_cancels_a_tool_that_may_be_cancelled(lab: Any) -> None:
    app, module = lab
    async with LocalCall(app.agent(), voice_engines(), options=CallOptions()) as c:
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        await c.speak(tone(0.8))
        await c.speak(silence(0.8))
        await c.wait_for(lambda e: isinstance(e, ev.ToolProgress) and e.kind == "filler")
        await c.speak(tone(1.5))  # the caller talks over the filler: a barge-in
        await c.speak(silence(1.0))
        await c.wait_for(lambda e: isinstance(e, ev.ToolResult))
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 2)
        results = c.events(ev.ToolResult)
    assert c.events(ev.BargeIn)
    assert [r.status for r in results] == ["cancelled"]
    assert module.CALLS.count("long_read") == 1
    assert c.events(ev.TranscriptFinal)[-1].text == "stop please I changed my mind"


async def test_barge_in_lets_a_side_effect_finish_and_tells_the_result_next(lab: Any) -> None:
    app, module = lab
    stt = FakeStt(["book the room for plums", "hang on a second", "hello are you there"])
    async with LocalCall(app.agent(), Engines(stt, FakeTts(ms_per_char=60), EnergyVad())) as c:
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        await c.speak(tone(0.8))
        await c.speak(silence(0.8))
        await c.wait_for(lambda e: isinstance(e, ev.ToolProgress) and e.kind == "filler")
        await c.speak(tone(1.2))  # barge-in while booking
        await c.speak(silence(1.0))
        result = await c.wait_for(lambda e: isinstance(e, ev.ToolResult))
        told = await c.wait_for(lambda e: isinstance(e, ev.AgentText) and "reference B one" in e.text, timeout=20)
    assert c.events(ev.BargeIn)
    assert result.status == "ok" and len(c.events(ev.ToolResult)) == 1
    assert told.turn >= 2  # told on a later turn, after the caller's interruption
    assert sum(1 for x in module.CALLS if x.startswith("book:")) == 1


async def test_idempotent_repeat_returns_the_stored_result(lab: Any) -> None:
    app, module = lab
    async with TextCall(app.agent()) as c:
        await c.greeting()
        first = await c.say("book the room for plums")
        second = await c.say("book the room for plums")
        results = c.events(ev.ToolResult)
        calls = c.events(ev.ToolCalled)
    assert first.endswith("Booked, reference B one.") and second.endswith("Booked, reference B one.")
    assert [(r.status, r.replayed) for r in results] == [("ok", False), ("ok", True)]
    assert calls[0].idempotency_key and calls[0].idempotency_key == calls[1].idempotency_key
    assert sum(1 for x in module.CALLS if x.startswith("book:")) == 1


def test_schema_comes_from_type_hints() -> None:
    @tool(description="Find things.")
    async def find(ctx: ToolContext, query: str, limit: int = 3, fresh: bool | None = None) -> list[str]:
        return []

    spec = tool_spec(find.fn, "Find things.")
    assert spec.parameters == {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}, "fresh": {"type": "boolean"}},
        "required": ["query"],
    }
    assert find.options.waits is False


def test_a_sync_function_is_refused() -> None:
    with pytest.raises(TypeError, match="must be 'async def'"):
        tool(lambda ctx: None)  # type: ignore[arg-type]
