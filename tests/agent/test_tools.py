"""Tools on a live call: filler, progress, timeout, cancel-or-wait on barge-in, exactly one result,
idempotency. A small agent folder is written per test; calls run through a real Call. A code-defined
LlmAgent runs its tools through the same ToolRunner, and is held to the same here.

The tools take their time on the call's clock (``ctx.clock``), and fillers and timeouts are timed on
it too, so the calls run on a :class:`SteppedClock`: no test waits for a tool in real time, and the
times in the events are exact. (Absolute times are not asserted: the intent ranker runs in a thread,
which is off the clock, so when a tool starts varies a little; what follows from that start does not.)
"""

from __future__ import annotations

import enum
import json
import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import pytest
from pydantic import BaseModel, Field

from callwright import events as ev
from callwright.agent.app import AgentApp, Services
from callwright.agent.base import Context, Say, Turn
from callwright.agent.llm import LlmAgent, answer, tool_rounds
from callwright.agent.spec import load_definition
from callwright.agent.tools import Outcome, ToolContext, ToolRunner, tool, tool_spec
from callwright.clock import SteppedClock
from callwright.engines.base import Message, ToolCallRequest, ToolSpec
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.engines.llm.scripted import ScriptedLlm, ScriptedReply
from callwright.errors import ConfigError, ToolArgumentError
from callwright.testing import LocalCall, TextCall, silence, tone
from callwright.voice.call import CallOptions, Engines

# Times are binary fractions (0.125, 0.625), so sums of them on the clock are exact.
TOOLS = '''
import anyio
from callwright.agent.tools import ToolContext, tool

CALLS: list[str] = []
BOOKED: anyio.Event | None = None  # when set by a test, `book` finishes only once the test sets it

async def take(ctx: ToolContext, seconds: float) -> None:
    await ctx.clock.sleep_until(ctx.clock.now() + seconds)

@tool(slow_after=0.125, timeout=0.625, filler="Let me look.", timeout_reply="Sorry, the system is slow today.")
async def stuck(ctx: ToolContext, item: str) -> str:
    CALLS.append("stuck")
    await take(ctx, 30)
    return "never"

@tool(slow_after=0.0625, timeout=5, filler="Checking.")
async def long_read(ctx: ToolContext, item: str) -> dict:
    CALLS.append("long_read")
    await ctx.progress("Still reading the first shelf.")
    await take(ctx, 4)
    return {"text": "found"}

@tool(slow_after=0.0625, timeout=5, side_effects=True, filler="Booking that now.")
async def book(ctx: ToolContext, item: str) -> dict:
    CALLS.append("book:" + str(ctx.idempotency_key))
    await take(ctx, 1.5)
    if BOOKED is not None:
        await BOOKED.wait()
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


def since_called(c: TextCall | LocalCall, kind: type) -> list[float]:
    """When each event of ``kind`` came, in ms after the (one) tool call, on the call's clock."""
    (called,) = c.events(ev.ToolCalled)
    return [e.t_ms - called.t_ms for e in c.events(kind)]


async def test_a_tool_timeout_ends_in_a_spoken_fallback_and_one_result(lab: Any) -> None:
    app, module = lab
    async with TextCall(app.agent(), clock=SteppedClock()) as c:
        await c.greeting()
        reply = await c.say("check the stuck system for apples")
        results = c.events(ev.ToolResult)
    assert [(r.status, r.ms) for r in results] == [("timeout", 625.0)]  # exactly the tool's timeout
    assert since_called(c, ev.ToolProgress) == [125.0]  # the filler, at exactly slow_after
    assert since_called(c, ev.ToolResult) == [625.0]
    assert reply == "Let me look. Sorry, the system is slow today."
    assert module.CALLS == ["stuck"]


async def test_progress_is_spoken_after_the_filler(lab: Any) -> None:
    """The tool reports progress at once; it is held, because the result may come before the filler
    is due; at slow_after the filler is said, then the held progress, then the result at 4 s."""
    app, _ = lab
    async with TextCall(app.agent(), clock=SteppedClock()) as c:
        await c.greeting()
        reply = await c.say("read the long list of pears")
        progress = c.events(ev.ToolProgress)
        (result,) = c.events(ev.ToolResult)
    assert [p.kind for p in progress] == ["progress", "filler"]
    assert since_called(c, ev.ToolProgress) == [0.0, 62.5]
    assert (result.status, result.ms) == ("ok", 4000.0)
    assert reply == "Checking. Still reading the first shelf. The list says found."


def voice_engines() -> Engines:
    # The interruption is transcribed twice: once to decide it is a barge-in, once as the caller's turn.
    script = ["read the long list of pears", "stop please I changed my mind", "stop please I changed my mind", "thanks"]
    return Engines(FakeStt(script), FakeTts(ms_per_char=60), EnergyVad())


async def test_barge_in_cancels_a_tool_that_may_be_cancelled(lab: Any) -> None:
    app, module = lab
    async with LocalCall(app.agent(), voice_engines(), options=CallOptions(), clock=SteppedClock()) as c:
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
    module.BOOKED = anyio.Event()  # the booking is still running when the caller barges in, however slow the test is
    stt = FakeStt(["book the room for plums", "hang on a second", "hello are you there"])
    async with LocalCall(app.agent(), Engines(stt, FakeTts(ms_per_char=60), EnergyVad()), clock=SteppedClock()) as c:
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        await c.speak(tone(0.8))
        await c.speak(silence(0.8))
        await c.wait_for(lambda e: isinstance(e, ev.ToolProgress) and e.kind == "filler")
        await c.speak(tone(1.2))  # barge-in while booking
        await c.wait_for(lambda e: isinstance(e, ev.BargeIn))
        assert not c.events(ev.ToolResult)
        module.BOOKED.set()
        await c.speak(silence(1.0))
        result = await c.wait_for(lambda e: isinstance(e, ev.ToolResult))
        told = await c.wait_for(lambda e: isinstance(e, ev.AgentText) and "reference B one" in e.text, timeout=20)
    assert c.events(ev.BargeIn)
    assert result.status == "ok" and len(c.events(ev.ToolResult)) == 1
    assert told.turn >= 2  # told on a later turn, after the caller's interruption
    assert sum(1 for x in module.CALLS if x.startswith("book:")) == 1


async def test_idempotent_repeat_returns_the_stored_result(lab: Any) -> None:
    app, module = lab
    async with TextCall(app.agent(), clock=SteppedClock()) as c:
        await c.greeting()
        first = await c.say("book the room for plums")
        second = await c.say("book the room for plums")
        results = c.events(ev.ToolResult)
        calls = c.events(ev.ToolCalled)
    assert first == "Booking that now. Booked, reference B one."
    assert second == "Booked, reference B one."  # the stored result, at once: no filler
    assert [(r.status, r.replayed, r.ms) for r in results] == [("ok", False, 1500.0), ("ok", True, 0.0)]
    assert calls[0].idempotency_key and calls[0].idempotency_key == calls[1].idempotency_key
    assert sum(1 for x in module.CALLS if x.startswith("book:")) == 1


def test_schema_comes_from_type_hints() -> None:
    @tool(description="Find things.")
    async def find(ctx: ToolContext, query: str, limit: int = 3, fresh: bool | None = None) -> list[str]:
        return []

    spec = tool_spec(find.fn, "Find things.")
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "default": 3},
            "fresh": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
        },
        "required": ["query"],
    }
    assert spec.description == "Find things."
    assert find.options.waits is False


def test_a_sync_function_is_refused() -> None:
    with pytest.raises(TypeError, match="must be 'async def'"):
        tool(lambda ctx: None)  # type: ignore[arg-type]


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Address(BaseModel):
    street: str
    zip_code: Annotated[str, Field(description="Five digits.")]


@tool
async def place_order(
    ctx: ToolContext,
    product: Annotated[str, Field(description="The product name as the caller said it.")],
    quantity: int,
    size: Size = Size.SMALL,
    gift: bool = False,
    note: str | None = None,
    tags: list[int] | None = None,
    key: int | str = 0,
    extras: dict[str, int] | None = None,
    colour: Literal["red", "blue"] = "red",
    ship_to: Address | None = None,
) -> str:
    """Place an order for a product.

    The second paragraph is for people, not for the model.
    """
    return f"{product} x{quantity}"


def test_schema_describes_unions_lists_enums_and_nested_models() -> None:
    params = place_order.spec.parameters
    props = params["properties"]
    assert place_order.spec.description == "Place an order for a product."
    assert params["required"] == ["product", "quantity"]
    assert place_order.required == ("product", "quantity")
    assert place_order.parameters == ("product", "quantity", "size", "gift", "note", "tags", "key", "extras", "colour", "ship_to")
    assert props["product"] == {"type": "string", "description": "The product name as the caller said it."}
    assert props["quantity"] == {"type": "integer"}
    assert props["size"] == {"type": "string", "enum": ["small", "large"], "default": "small"}
    assert props["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "integer"}}
    assert props["key"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0}
    assert props["extras"]["anyOf"][0] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["colour"] == {"type": "string", "enum": ["red", "blue"], "default": "red"}
    # Nested models are written in place: no $ref for a small model to follow, no titles.
    assert props["ship_to"]["anyOf"][0] == {
        "type": "object",
        "properties": {"street": {"type": "string"}, "zip_code": {"type": "string", "description": "Five digits."}},
        "required": ["street", "zip_code"],
    }
    assert "$ref" not in json.dumps(params) and "$defs" not in params and "title" not in json.dumps(params)


def test_parameters_may_have_any_name() -> None:
    async def lookup(ctx: ToolContext, json: str, model_id: int = 1) -> None: ...

    spec = tool_spec(lookup)
    assert list(spec.parameters["properties"]) == ["json", "model_id"]
    assert spec.parameters["required"] == ["json"]
    assert spec.description == "lookup"


def test_validation_converts_to_the_declared_types_and_drops_unknown_keys() -> None:
    given = {
        "product": "tea",
        "quantity": "2",
        "size": "large",
        "gift": "yes",
        "tags": ["1", 2],
        "ship_to": {"street": "1 Main St", "zip_code": "02134"},
        "unknown": "x",
    }
    args = place_order.validate(given)
    assert args == {
        "product": "tea",
        "quantity": 2,
        "size": Size.LARGE,
        "gift": True,
        "tags": [1, 2],
        "ship_to": Address(street="1 Main St", zip_code="02134"),
    }
    assert place_order.validate({"product": 7, "quantity": 3.0}) == {"product": "7", "quantity": 3}


def test_validation_errors_name_the_tool_the_argument_and_what_is_missing() -> None:
    with pytest.raises(ToolArgumentError) as info:
        place_order.validate({"quantity": "two", "colour": "green", "tags": [1, "x"]})
    error = info.value
    assert error.category == "tool" and not error.retryable
    assert error.tool == "place_order"
    assert error.missing == ("product",)
    assert set(error.invalid) == {"quantity", "colour", "tags[1]"}
    assert error.invalid["quantity"] == "Input should be a valid integer, unable to parse string as an integer (got 'two')"
    assert str(error).startswith("place_order: argument 'quantity': Input should be a valid integer")
    assert str(error).endswith("; missing required argument 'product'")
    with pytest.raises(ToolArgumentError, match=r"argument 'quantity': .*\(got '2\.5'\)"):
        place_order.validate({"product": "tea", "quantity": "2.5"})  # no silent truncation


async def test_the_runner_refuses_bad_arguments_with_one_error_result() -> None:
    ran: list[dict[str, Any]] = []

    @tool(side_effects=True)
    async def book(ctx: ToolContext, room: str, nights: int) -> str:
        ran.append({"room": room, "nights": nights})
        return "booked"

    events: list[Any] = []
    runner = ToolRunner()

    async def run(arguments: dict[str, Any]) -> list[Say | Outcome]:
        async with anyio.create_task_group() as tasks:
            context = Context(call_id="c1", tasks=tasks, emit=events.append)
            return [item async for item in runner.run(book, arguments, turn=1, context=context)]

    items = await run({"room": "blue", "nights": "many"})
    error = "book: argument 'nights': Input should be a valid integer, unable to parse string as an integer (got 'many')"
    assert items == [Outcome("book", "error", error=error)]
    assert [(r.status, r.error) for r in events if isinstance(r, ev.ToolResult)] == [("error", error)]
    assert ran == []

    events.clear()
    items = await run({"room": "blue", "nights": "2", "pets": "no"})
    assert items[-1] == Outcome("book", "ok", "booked")
    assert ran == [{"room": "blue", "nights": 2}]
    called = next(e for e in events if isinstance(e, ev.ToolCalled))
    assert called.arguments == {"room": "blue", "nights": 2}
    assert [r.status for r in events if isinstance(r, ev.ToolResult)] == ["ok"]


async def test_a_function_without_a_context_is_a_tool_too() -> None:
    async def add_guests(count: int) -> dict[str, int]:
        """Add guests to the booking."""
        return {"guests": count}

    guests = tool(add_guests, timeout=2)
    assert guests.spec.parameters == {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
    assert (guests.spec.description, guests.options.timeout) == ("Add guests to the booking.", 2)
    async with anyio.create_task_group() as tasks:
        items = [item async for item in ToolRunner().run(guests, {"count": "3"}, turn=1, context=Context(tasks=tasks))]
    assert items == [Outcome("add_guests", "ok", {"guests": 3})]


async def test_the_runner_needs_the_replys_task_group_and_records_nothing_without_it() -> None:
    @tool(side_effects=True)
    async def book(ctx: ToolContext, room: str) -> str:
        return "booked"

    events: list[Any] = []
    with pytest.raises(RuntimeError, match=r"ToolRunner.run needs context.tasks"):
        async for _ in ToolRunner().run(book, {"room": "blue"}, turn=1, context=Context(emit=events.append)):
            pass
    assert events == []  # no tool.call left without its tool.result (the claim comes after the tool.call)


def read_by_model(llm: ScriptedLlm) -> list[Any]:
    """The tool results the model was given, in the last request it got."""
    return [json.loads(m.content) for m in llm.requests[-1].messages if m.role == "tool"]


async def test_an_llm_agent_sends_argument_errors_back_to_the_model() -> None:
    seen: list[int] = []

    async def add_guests(count: int) -> dict[str, int]:
        """Add guests to the booking."""
        seen.append(count)
        return {"guests": count}

    llm = ScriptedLlm([
        ScriptedReply(tool_calls=(ToolCallRequest("t1", "add_guests", {"count": "a few"}),)),
        ScriptedReply(tool_calls=(ToolCallRequest("t2", "add_guests", {"count": "3"}),)),
        "Three guests added.",
    ])
    agent = LlmAgent("desk", llm, "Help.", tools=[tool(add_guests)])
    async with anyio.create_task_group() as tasks:  # the reply's task group, as a Call gives it
        context = Context(tasks=tasks)
        said = [act.text async for act in agent.respond(Turn(0, "add a few guests"), context) if isinstance(act, Say)]
    assert "".join(said) == "Three guests added."
    assert seen == [3]
    assert read_by_model(llm) == [
        {"status": "error", "result": None, "error": "add_guests: argument 'count': Input should be a valid integer, unable to parse string as an integer (got 'a few')"},
        {"status": "ok", "result": {"guests": 3}, "error": None},
    ]
    assert llm.requests[0].tools[0].parameters == {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}


async def test_an_llm_agent_tool_that_fails_or_hangs_is_told_to_the_model_and_recorded_once() -> None:
    async def broken(order_number: str) -> str:
        """Look an order up (its backend is down)."""
        raise ConnectionError("backend unreachable")

    async def hangs(order_number: str) -> str:
        """Look an order up (its backend never answers)."""
        await anyio.Event().wait()
        return "never"

    llm = ScriptedLlm([
        ScriptedReply(tool_calls=(ToolCallRequest("t1", "broken", {"order_number": "12"}), ToolCallRequest("t2", "hangs", {"order_number": "12"}))),
        "Sorry, I can't reach our order system right now.",
    ])
    agent = LlmAgent("desk", llm, "Help.", tools=[tool(broken), tool(hangs, timeout=0.25)])
    async with TextCall(agent, clock=SteppedClock()) as c:  # the timeout fires at exactly 0.25 s, at once
        reply = await c.say("where is order 12")
        calls = [(e.call, e.name) for e in c.events(ev.ToolCalled)]
        results = [(e.call, e.name, e.status, e.ms) for e in c.events(ev.ToolResult)]
    assert reply == "Sorry, I can't reach our order system right now."  # no filler: the timeout comes before slow_after
    assert calls == [("1.1", "broken"), ("1.2", "hangs")]
    assert results == [("1.1", "broken", "error", 0.0), ("1.2", "hangs", "timeout", 250.0)]  # exactly one result each
    assert read_by_model(llm) == [
        {"status": "error", "result": None, "error": "ConnectionError: backend unreachable"},
        {"status": "timeout", "result": None, "error": "no result after 0.25 s"},
    ]


async def test_an_llm_agent_speaks_the_filler_and_never_repeats_a_side_effect() -> None:
    keys: list[str | None] = []

    async def book_room(ctx: ToolContext, room: str) -> dict[str, str]:
        """Book a meeting room."""
        keys.append(ctx.idempotency_key)
        await ctx.sleep(1.5)
        return {"room": room}

    def books(call: str) -> ScriptedReply:
        return ScriptedReply(tool_calls=(ToolCallRequest(call, "book_room", {"room": "blue"}),))

    llm = ScriptedLlm([books("t1"), "The blue room is yours.", books("t2"), "It is still yours."])
    agent = LlmAgent("desk", llm, "Help.", tools=[tool(book_room, slow_after=0.5, side_effects=True, filler="Booking that now.")])
    async with TextCall(agent, clock=SteppedClock()) as c:
        first = await c.say("book the blue room")
        second = await c.say("did you book the blue room")
        progress = c.events(ev.ToolProgress)
        results = c.events(ev.ToolResult)
        calls = c.events(ev.ToolCalled)
    assert first == "Booking that now. The blue room is yours."
    assert second == "It is still yours."  # the stored result, at once: no filler
    assert [(p.kind, p.text) for p in progress] == [("filler", "Booking that now.")]
    assert progress[0].t_ms - calls[0].t_ms == 500.0  # at exactly slow_after
    assert [(r.status, r.replayed, r.ms) for r in results] == [("ok", False, 1500.0), ("ok", True, 0.0)]
    assert keys == [calls[0].idempotency_key] and calls[0].idempotency_key == calls[1].idempotency_key
    assert read_by_model(llm) == [{"status": "ok", "result": {"room": "blue"}, "error": None}]


async def test_an_llm_agent_tells_the_model_a_result_that_came_after_the_caller_interrupted() -> None:
    release = anyio.Event()

    async def book_room(room: str) -> dict[str, str]:
        """Book a meeting room."""
        await release.wait()
        return {"room": room}

    llm = ScriptedLlm([ScriptedReply(tool_calls=(ToolCallRequest("t1", "book_room", {"room": "blue"}),)), "The blue room is booked."])
    agent = LlmAgent("desk", llm, "Help.", tools=[tool(book_room, side_effects=True)])  # side effects: it waits
    events: list[Any] = []
    reply = anyio.CancelScope()

    async def respond(turn: Turn) -> None:
        with reply:  # as the Call runs a reply: its own scope, and a task group for the tools
            async with anyio.create_task_group() as tasks:
                async for _ in agent.respond(turn, Context(tasks=tasks, emit=events.append)):
                    pass

    with anyio.fail_after(5):
        async with anyio.create_task_group() as call:
            call.start_soon(respond, Turn(1, "book the blue room"))
            while not any(isinstance(e, ev.ToolCalled) for e in events):
                await anyio.sleep(0.001)
            reply.cancel()  # the caller interrupts while the booking runs
            await anyio.wait_all_tasks_blocked()
            release.set()
    assert [(r.status, r.result) for r in events if isinstance(r, ev.ToolResult)] == [("ok", {"room": "blue"})]
    assert agent.runner.late and len(llm.requests) == 1

    reply = anyio.CancelScope()
    await respond(Turn(2, "hello?"))
    system = llm.requests[-1].messages[0].content
    assert 'While the caller interrupted you, book_room finished with {"room": "blue"}: tell them first.' in system
    assert not agent.runner.late


LOOK = ToolSpec("look", "Look it up.", {"type": "object", "properties": {"q": {"type": "string"}}})


async def test_tool_rounds_force_the_first_call_allow_none_on_the_last_and_need_every_call_answered() -> None:
    def looks(call: str) -> ScriptedReply:
        return ScriptedReply(tool_calls=(ToolCallRequest(call, "look", {}),))

    llm = ScriptedLlm([looks("t1"), looks("t2"), "Found it."])
    messages = [Message("user", "find it")]
    items: list[Say | ToolCallRequest] = []
    async for item in tool_rounds(llm, messages, [LOOK], max_rounds=2, first_choice="look"):
        items.append(item)
        if isinstance(item, ToolCallRequest):
            messages.append(answer(item, {"seen": item.id}))
    assert [r.tool_choice for r in llm.requests] == ["look", None, "none"]
    assert [(m.role, m.tool_call_id) for m in messages] == [("user", None), ("assistant", None), ("tool", "t1"), ("assistant", None), ("tool", "t2")]
    assert [i.id if isinstance(i, ToolCallRequest) else i.text for i in items] == ["t1", "t2", "Found ", "it."]

    rounds = tool_rounds(ScriptedLlm([looks("t1")]), [Message("user", "find it")], [LOOK], max_rounds=1)
    assert isinstance(await anext(rounds), ToolCallRequest)
    with pytest.raises(RuntimeError, match="the model's call of 'look' was not answered"):
        await anext(rounds)  # asking the model again without the result would be a malformed request


async def test_a_call_the_model_garbled_is_told_back_and_tried_again_never_run() -> None:
    garbled = ToolCallRequest("t1", "look", {}, invalid="tool call 'look' has arguments that are not valid JSON: '{\"q\": ,'")
    llm = ScriptedLlm([ScriptedReply(tool_calls=(garbled,)), ScriptedReply(tool_calls=(ToolCallRequest("t2", "look", {"q": "milk"}),)), "Found it."])
    messages = [Message("user", "find milk")]
    seen: list[ev.Event] = []
    ran: list[str] = []
    async for item in tool_rounds(llm, messages, [LOOK], max_rounds=3, emit=seen.append):
        if isinstance(item, ToolCallRequest):
            ran.append(item.id)
            messages.append(answer(item, {"found": "oat milk"}))
    assert ran == ["t2"]  # the garbled call never reached a tool
    told = json.loads(messages[2].content)
    assert messages[2].tool_call_id == "t1" and told["status"] == "error"
    assert "not valid JSON" in told["error"] and "Call look again with its arguments as one JSON object" in told["error"]
    assert len(llm.requests) == 3  # the model was asked again after being told, and once more after the good call
    [error] = seen
    assert isinstance(error, ev.ErrorEvent) and error.stage == "llm" and "arguments that are not valid JSON" in error.message

    # a function it was not offered is told back the same way
    offered = [LOOK]
    llm = ScriptedLlm([ScriptedReply(tool_calls=(ToolCallRequest("t3", "delete_everything", {}),)), "Sorry."])
    messages = [Message("user", "wipe it")]
    seen.clear()
    items = [item async for item in tool_rounds(llm, messages, offered, max_rounds=2, emit=seen.append)]
    assert not [i for i in items if isinstance(i, ToolCallRequest)]
    told = json.loads(messages[2].content)
    assert "not one of its functions" in told["error"] and "Use one of: look" in told["error"]
    assert len(seen) == 1 and "'delete_everything', which is not one of its functions" in seen[0].message


def test_an_llm_agent_refuses_a_background_tool() -> None:
    async def send_brochure(address: str) -> str:
        """Post a brochure."""
        return "sent"

    with pytest.raises(ConfigError, match="agent 'desk': tool 'send_brochure' is a background job, which only an agent folder can queue"):
        LlmAgent("desk", ScriptedLlm([]), "Help.", tools=[tool(send_brochure, background=True)])
