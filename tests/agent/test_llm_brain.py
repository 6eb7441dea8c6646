"""The LLM brain's plumbing: the order desk with a language model as its brain, in text mode.

Against the real local server (llama-cpp-python with SmolLM2-135M, the ``llm_server`` fixture),
seen through a loopback HTTP spy that keeps every request body: the request carries the tools' JSON
Schemas and the built-in functions; a tool call from the model runs through the ToolRunner (filler,
one result) and the model's reply after it is spoken; form values from the model go through our
parser and rules; a plain turn is answered. The 135M model is not clever, and is not asked to be:
its arguments and wording are whatever it makes of the prompt, so these tests assert what our code
does with them, never what the model should have said.

With a scripted model (exact tool calls), the rules that stay in our code: a form value parsed and
filled, read back when unsure, texted as a link after two failed tries; a wrong form name goes back
to the model as an error; ``transfer_to_human`` transfers the call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from callwright import events as ev
from callwright.agent.app import AgentApp, Services
from callwright.agent.llm_brain import LlmBrain
from callwright.agent.spec_agent import SpecAgent
from callwright.engines.base import ToolCallRequest
from callwright.engines.llm.openai_compat import OpenAICompatibleLlm
from callwright.engines.llm.scripted import ScriptedLlm, ScriptedReply
from callwright.testing import TextCall
from loopback_http import LoopbackHttp, Request, Response

STRANGER = "+14155550999"
SLOW = 240.0  # seconds for one turn against the real model on 2 CPU cores (it usually takes 5-20)
ORDER_STATUS_SCHEMA = {
    "type": "object",
    "properties": {"order_number": {"type": "string"}},
    "required": ["order_number"],
}
BUILTINS = {"set_form_field", "search_knowledge", "transfer_to_human", "forget_caller"}


@pytest.fixture(scope="module")
def app(order_desk_definition: Any) -> AgentApp:
    """The order desk, embedded once per module; each test gives it its own services."""
    return AgentApp(order_desk_definition)


@pytest.fixture
def brain(app: AgentApp, services: Services) -> Callable[[Any], SpecAgent]:
    """A fresh call's agent with ``llm`` as its brain and this test's store, outbox and link signer."""

    def make(llm: Any) -> SpecAgent:
        app.services = dataclasses.replace(services, llm=llm)
        agent = app.agent()
        assert isinstance(agent.brain, LlmBrain)
        return agent

    return make


# ------------------------------------------------------------------ the real model, through a spy
class Spy:
    """A loopback HTTP proxy in front of the real server that keeps every request body as sent.

    Each request is forwarded whole and its answer (JSON or a complete SSE stream) sent back whole,
    one request per connection.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removesuffix("/v1")
        self.requests: list[dict[str, Any]] = []
        self.answers: list[str] = []
        self.serving = LoopbackHttp(self._forward).serving

    async def _forward(self, request: Request) -> Response:
        if request.body:
            self.requests.append(json.loads(request.body))
        async with httpx.AsyncClient(timeout=SLOW) as client:
            answer = await client.request(
                request.method,
                self.upstream + request.path,
                content=request.body,
                headers={"Content-Type": "application/json"},
            )
        if request.body:
            self.answers.append(answer.text)
        kind = answer.headers.get("content-type", "application/json").encode()
        return Response(answer.status_code, kind, answer.content, b"Spy")


@contextlib.asynccontextmanager
async def real_model(llm_server: str) -> AsyncIterator[tuple[OpenAICompatibleLlm, Spy]]:
    """SmolLM2 behind the spy. llama-cpp-python cannot stream a reply where the model picks a tool itself."""
    spy = Spy(llm_server)
    async with spy.serving() as url:
        llm = OpenAICompatibleLlm(url, "smollm2", temperature=0, max_tokens=64, timeout_s=SLOW, stream_auto_tools=False)
        async with llm:
            yield llm, spy


def tools_of(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in request.get("tools", [])}


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def no_errors(c: TextCall) -> None:
    errors = [(e.code, e.message) for e in c.events(ev.ErrorEvent)]
    assert not errors, f"the call reported errors: {errors}"


def each_tool_call_has_one_result(c: TextCall) -> None:
    called = [e.call for e in c.events(ev.ToolCalled) if not e.background]
    results = [e.call for e in c.events(ev.ToolResult)]
    assert sorted(called) == sorted(results), f"tool.call {called} vs tool.result {results}"


@pytest.mark.slow
async def test_forced_tool_call_runs_through_the_tool_runner_and_the_reply_is_spoken(
    llm_server: str, brain: Callable[[Any], SpecAgent]
) -> None:
    async with real_model(llm_server) as (llm, spy):
        agent = brain(llm)
        assert isinstance(agent.brain, LlmBrain)
        agent.brain.first_tool_choice = "order_status"
        agent.brain.max_tool_rounds = 1  # one tool round, then the model words what it found
        async with TextCall(agent, caller=STRANGER) as c:
            await c.greeting()
            reply = await c.say("where is my order 4567", timeout=SLOW)
            no_errors(c)
            [called] = c.events(ev.ToolCalled)
            [result] = c.events(ev.ToolResult)
            fillers = [p for p in c.events(ev.ToolProgress) if p.kind == "filler"]
            spoken_after = [t.text for t in c.events(ev.AgentText) if t.turn == 1 and t.t_ms > result.t_ms]
            [turn] = [t for t in c.events(ev.AgentTurn) if t.turn == 1]

    # The request: the tools' JSON Schemas and the built-ins, the forced choice, the caller's words.
    first, second = spy.requests
    tools = tools_of(first)
    assert tools["order_status"]["parameters"] == ORDER_STATUS_SCHEMA
    assert tools["order_status"]["description"] == "Look up the delivery status of an order by its number."
    assert BUILTINS <= set(tools)
    assert tools["set_form_field"]["parameters"]["required"] == ["form", "field", "value"]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "order_status"}}
    assert first["messages"][0]["role"] == "system" and "Callwright Market" in first["messages"][0]["content"]
    assert first["messages"][-1] == {"role": "user", "content": "where is my order 4567"}

    # The model's call ran once through the ToolRunner: filler (the tool is slow), exactly one result.
    assert called.name == "order_status" and result.call == called.call and result.name == "order_status"
    assert set(called.arguments) <= {"order_number"}  # anything else the model sent is dropped
    assert result.status in {"ok", "error"}
    assert result.status == "ok" or result.error, "a failed call records its error"
    assert [f.text for f in fillers] == ["Let me pull up that order."] and fillers[0].t_ms < result.t_ms

    # The result went back to the model, which had to answer in words (the last round offers no tool).
    [back] = tool_messages(second)
    assert back["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]
    assert json.loads(back["content"])["status"] == result.status
    assert second["tool_choice"] == "none"
    assert "".join(spoken_after).strip(), "the model's reply after the tool result is spoken"
    assert reply == turn.text and turn.text.startswith("Let me pull up that order.")


@pytest.mark.slow
async def test_form_value_from_the_model_goes_through_our_parser(
    llm_server: str, brain: Callable[[Any], SpecAgent]
) -> None:
    async with real_model(llm_server) as (llm, spy):
        agent = brain(llm)
        assert isinstance(agent.brain, LlmBrain)
        agent.brain.first_tool_choice = "set_form_field"
        async with TextCall(agent, caller=STRANGER) as c:
            await c.greeting()
            reply = await c.say("my delivery address is 12 Oak Street, Springfield", timeout=SLOW)
            errors = [e.message for e in c.events(ev.ErrorEvent)]
            fields = c.events(ev.FormField)
            turns = [t for t in c.events(ev.AgentTurn) if t.turn == 1]

    assert spy.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "set_form_field"}}
    calls = [call for answer in spy.answers for call in _tool_calls(answer) if call["name"] == "set_form_field"]
    assert calls, "the forced request came back with a set_form_field call"
    told = {m["tool_call_id"]: json.loads(m["content"]) for r in spy.requests for m in tool_messages(r)}
    # The 135M model sometimes writes arguments that are not JSON. The tool never runs on a guess: the
    # operator sees a precise error naming the tool, and the model is told what was wrong and may call
    # again; every other call's value goes through our parser.
    malformed = [call for call in calls if not _json_object(call["arguments"])]
    if malformed:
        assert errors and all("tool call 'set_form_field' has arguments that are" in e for e in errors)
    else:
        assert not errors, f"the call reported errors: {errors}"
    for call in calls:
        if call in malformed:
            assert told[call["id"]]["status"] == "error" and "again with its arguments as one JSON object" in told[call["id"]]["error"]
            continue
        arguments = json.loads(call["arguments"])
        if arguments.get("form") == "delivery" and arguments.get("field") == "address":
            # Our parser judged the model's value: filled, read back, rejected or sent as a link.
            assert fields and {f.status for f in fields} <= {"filled", "confirm", "rejected", "link_sent"}
        else:
            # A form or field the order desk does not have: the error went back to the model.
            assert "no form" in told[call["id"]]["error"] or "has no field" in told[call["id"]]["error"]
    assert turns and reply == turns[0].text and reply.strip(), "the agent spoke"


@pytest.mark.slow
async def test_plain_turn_gets_a_spoken_reply(llm_server: str, brain: Callable[[Any], SpecAgent]) -> None:
    async with real_model(llm_server) as (llm, spy):
        async with TextCall(brain(llm), caller=STRANGER) as c:
            await c.greeting()
            reply = await c.say("hello", timeout=SLOW)
            no_errors(c)
            each_tool_call_has_one_result(c)

    assert reply.strip()
    assert all(r["tool_choice"] == "auto" and r["stream"] is False for r in spy.requests[:-1])
    assert len(spy.requests) <= LlmBrain.max_tool_rounds + 1


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def _tool_calls(answer: str) -> list[dict[str, Any]]:
    """The function calls in one answer of the server, streamed (SSE) or whole (JSON)."""
    if answer.lstrip().startswith("{"):
        whole = json.loads(answer)
        if "choices" not in whole:  # an error answer (a prompt refused as too long, then fitted and sent again)
            return []
        message = whole["choices"][0]["message"]
        return [{"id": t["id"], **t["function"]} for t in message.get("tool_calls") or []]
    calls: dict[int, dict[str, Any]] = {}
    for line in answer.splitlines():
        if not line.startswith("data: {"):
            continue
        for choice in json.loads(line[6:])["choices"]:
            for piece in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(piece["index"], {"id": piece.get("id"), "name": "", "arguments": ""})
                call["name"] = piece["function"].get("name") or call["name"]
                call["arguments"] += piece["function"].get("arguments") or ""
    return list(calls.values())


# ------------------------------------------------------------------ a scripted model: our rules
def set_field(value: str, *, form: str = "delivery", field: str = "address", call_id: str = "c1") -> ScriptedReply:
    return ScriptedReply(
        tool_calls=(ToolCallRequest(call_id, "set_form_field", {"form": form, "field": field, "value": value}),)
    )


async def test_the_requests_carry_the_tools_json_schemas(brain: Callable[[Any], SpecAgent]) -> None:
    llm = ScriptedLlm(["Hi! How can I help?"])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        assert await c.say("hello") == "Hi! How can I help?"
    [request] = llm.requests
    tools = {t.name: t for t in request.tools}
    assert tools["order_status"].parameters == ORDER_STATUS_SCHEMA
    assert tools["place_order"].parameters["properties"]["quantity"] == {"type": "integer"}
    assert BUILTINS <= set(tools)
    assert request.tool_choice is None  # the model decides; only the last of max_tool_rounds + 1 says "none"
    assert [m.role for m in request.messages] == ["system", "assistant", "user"]


async def test_valid_address_is_parsed_and_filled_then_the_model_goes_on(brain: Callable[[Any], SpecAgent]) -> None:
    llm = ScriptedLlm([set_field("twelve oak street springfield"), "Thanks. What would you like delivered?"])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        reply = await c.say("deliver it to twelve oak street springfield")
        [filled] = c.events(ev.FormField)
    assert filled.status == "filled" and filled.form == "delivery" and filled.field == "address"
    assert filled.value == "12 Oak Street, Springfield"  # our parser's value, not the model's words
    told = json.loads(llm.requests[1].messages[-1].content)
    assert told == {"ok": True, "value": "12 Oak Street, Springfield", "next": None}
    assert reply == "Thanks. What would you like delivered?"


async def test_unsure_value_is_read_back_and_confirmed_by_our_code(brain: Callable[[Any], SpecAgent]) -> None:
    llm = ScriptedLlm([set_field("oak street springfield"), "Thanks."])  # no house number: parsed, but unsure
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        question = await c.say("it's oak street in springfield")
        await c.say("yes")
        statuses = [(f.status, f.value) for f in c.events(ev.FormField)]
    assert question == "I heard Oak Street, Springfield. Is that right?"
    assert statuses == [("confirm", "Oak Street, Springfield"), ("confirmed", "Oak Street, Springfield")]
    # The read-back and the yes are handled in code; the model is asked again only afterwards, told the value.
    assert len(llm.requests) == 2 and llm.requests[1].messages[-1].content == "yes"


async def test_wrong_form_name_goes_back_to_the_model_and_the_call_goes_on(
    brain: Callable[[Any], SpecAgent],
) -> None:
    llm = ScriptedLlm([set_field("12 Oak Street", form="shipping"), "Sorry, what's the delivery address?"])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        reply = await c.say("my address is 12 Oak Street")
        fields = c.events(ev.FormField)
    told = llm.requests[1].messages[-1]
    assert told.role == "tool" and told.tool_call_id == "c1" and told.name == "set_form_field"
    assert json.loads(told.content) == {"error": "no form 'shipping'; forms: delivery"}
    assert not fields
    assert reply == "Sorry, what's the delivery address?"


async def test_value_failing_twice_is_texted_as_a_link(brain: Callable[[Any], SpecAgent]) -> None:
    llm = ScriptedLlm(
        [set_field("no idea"), "Sorry, what's the delivery address?", set_field("i told you", call_id="c2")]
    )
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        retry = await c.say("no idea")
        patience = c.events(ev.TurnPatience)
        link = await c.say("i told you")
        sent = c.events(ev.MessageSent)
        statuses = [(f.status, f.tries) for f in c.events(ev.FormField)]
        thanks = await c.web_value("delivery", "address", "12 Oak Street, Springfield")
        filled = c.events(ev.FormField)[-1]
    told = json.loads(llm.requests[1].messages[-1].content)
    assert told["ok"] is False and "What's the delivery address?" in told["error"]
    assert retry == "Sorry, what's the delivery address?"
    assert patience and patience[0].patience > 1  # an address is being read out: listen patiently
    assert statuses == [("rejected", 1), ("rejected", 2), ("link_sent", 2)]
    [message] = sent
    assert message.to == STRANGER and message.purpose == "form_link" and "/f/" in message.body
    assert link == "I've just texted you a link where you can type your delivery address. I'll wait right here."
    assert len(llm.requests) == 3, "after the link the agent waits; the model is not asked again"
    assert (filled.status, filled.value) == ("link_filled", "12 Oak Street, Springfield")
    assert thanks.startswith("Thanks, I have your delivery address now.")


async def test_transfer_to_human_transfers_the_call(brain: Callable[[Any], SpecAgent]) -> None:
    call = ToolCallRequest("c1", "transfer_to_human", {"reason": "the caller asked for a person"})
    llm = ScriptedLlm([ScriptedReply(tool_calls=(call,))])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        reply = await c.say("I would rather sort this out with your team")
        ended = await c.ended()
        [transfer] = c.events(ev.Transfer)
    assert transfer.to == "+15551230000" and transfer.mode == "transfer"
    assert transfer.reason == "the caller asked for a person"  # the model's reason
    assert ended.reason == "transfer"
    assert reply == "Of course. I'm connecting you to a colleague now."
    assert len(llm.requests) == 1


async def test_after_the_caller_confirms_a_value_the_agent_goes_on(brain: Callable[[Any], SpecAgent]) -> None:
    llm = ScriptedLlm([set_field("oak street springfield"), "Great. What would you like delivered?"])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        await c.say("it's oak street in springfield")
        after_yes = await c.say("yes")
    assert after_yes == "Great. What would you like delivered?"
    system = llm.requests[1].messages[0].content
    assert "The caller confirmed the delivery details: address Oak Street, Springfield." in system


async def test_a_side_effect_the_model_picks_is_confirmed_with_the_caller_first(brain: Callable[[Any], SpecAgent]) -> None:
    order = ScriptedReply(
        tool_calls=(ToolCallRequest("c1", "place_order", {"product": "oat milk", "quantity": 2, "address": "12 Oak Street"}),)
    )
    llm = ScriptedLlm([order])
    async with TextCall(brain(llm), caller=STRANGER) as c:
        await c.greeting()
        question = await c.say("two oat milk to 12 Oak Street please")
        assert not c.events(ev.ToolCalled), "nothing runs before the caller says yes"
        await c.say("yes")
        calls = c.events(ev.ToolCalled)
        results = c.events(ev.ToolResult)
    assert question == "So that's two oat milk, delivered to twelve Oak Street. Shall I place the order?"
    assert [call.name for call in calls] == ["place_order"]  # one call event (no job queue: it runs on the call)
    assert len(results) == 1
