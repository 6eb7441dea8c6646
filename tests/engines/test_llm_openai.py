"""OpenAICompatibleLlm against a real local server (llama-cpp-python + SmolLM2), a canned HTTP server
for the answers a real server will not give on demand, and ScriptedLlm.

The real-server tests check plumbing (streaming, tool calls, the tool round trip, error mapping), not
the 135M model's judgement: its tool arguments are only sensible when the tool is forced.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest

from callwright.clock import VirtualClock
from callwright.engines.base import LanguageModel, LLMDelta, Message, ToolCallRequest, ToolSpec
from callwright.engines.llm.openai_compat import OpenAICompatibleLlm
from callwright.engines.llm.scripted import ScriptedLlm, ScriptedReply
from callwright.errors import EngineError, EngineTimeout
from llm_server import N_CTX
from loopback_http import LoopbackHttp, Request, Response

ORDER_TOOL = ToolSpec(
    name="get_order_status",
    description="Look up the delivery status of an order by its number.",
    parameters={
        "type": "object",
        "properties": {"order_number": {"type": "string", "description": "The order number, e.g. 4567"}},
        "required": ["order_number"],
    },
)
SYSTEM = Message(role="system", content="You are a helpful support agent for an online shop. Answer briefly.")


async def collect(deltas: AsyncIterator[LLMDelta]) -> list[LLMDelta]:
    return [delta async for delta in deltas]


def text_of(deltas: Sequence[LLMDelta]) -> str:
    return "".join(delta.text for delta in deltas)


def tool_calls_of(deltas: Sequence[LLMDelta]) -> list[ToolCallRequest]:
    return [delta.tool_call for delta in deltas if delta.tool_call is not None]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------ real server
@pytest.mark.slow
async def test_streamed_reply_arrives_in_several_text_deltas(llm_server: str) -> None:
    async with OpenAICompatibleLlm(llm_server, "smollm2", temperature=0, max_tokens=24) as llm:
        deltas = await collect(llm.stream([SYSTEM, Message(role="user", content="Hello! Who are you?")]))

    text_deltas = [d for d in deltas if d.text]
    assert len(text_deltas) >= 3
    assert text_of(deltas).strip()
    assert deltas[-1].finish_reason in {"stop", "length"}
    assert not tool_calls_of(deltas)


@pytest.mark.slow
async def test_forced_tool_call_is_one_complete_request_with_dict_arguments(llm_server: str) -> None:
    question = Message(role="user", content="Where is my order 4567?")
    async with OpenAICompatibleLlm(llm_server, "smollm2", temperature=0, max_tokens=64) as llm:
        deltas = await collect(llm.stream([SYSTEM, question], [ORDER_TOOL], tool_choice="get_order_status"))

    [call] = tool_calls_of(deltas)
    assert call.name == "get_order_status"
    assert isinstance(call.arguments, dict)
    assert call.id
    assert deltas[-1].finish_reason == "tool_calls"


@pytest.mark.slow
async def test_tool_round_trip_then_the_reply_streams_text(llm_server: str) -> None:
    messages = [SYSTEM, Message(role="user", content="Where is my order 4567?")]
    async with OpenAICompatibleLlm(llm_server, "smollm2", temperature=0, max_tokens=48) as llm:
        [call] = tool_calls_of(await collect(llm.stream(messages, [ORDER_TOOL], tool_choice="get_order_status")))
        messages += [
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", tool_call_id=call.id, name=call.name, content='{"status": "shipped on Monday"}'),
        ]
        deltas = await collect(llm.stream(messages, [ORDER_TOOL], tool_choice="none"))

    assert len([d for d in deltas if d.text]) >= 2
    assert text_of(deltas).strip()
    assert not tool_calls_of(deltas)


@pytest.mark.slow
async def test_wrong_base_url_is_not_retryable_and_says_what_to_check(llm_server: str) -> None:
    without_v1 = llm_server.removesuffix("/v1")
    async with OpenAICompatibleLlm(without_v1, "smollm2", temperature=0, max_tokens=8) as llm:
        with pytest.raises(EngineError) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert not caught.value.retryable
    assert "HTTP 404" in str(caught.value)
    assert "check base_url (it usually ends in /v1) and the model name" in str(caught.value)


@pytest.mark.slow
async def test_prompt_overflowing_the_context_is_an_error_not_an_empty_reply(llm_server: str) -> None:
    # In streaming mode llama-cpp-python answers 200 and closes an empty stream when the prompt does
    # not fit its context (it never answers 400 to a streamed request).
    too_long = Message(role="user", content="order " * (2 * N_CTX))
    async with OpenAICompatibleLlm(llm_server, "smollm2", temperature=0, max_tokens=8) as llm:
        with pytest.raises(EngineError, match="the stream ended before the reply was finished"):
            await collect(llm.stream([too_long]))


async def test_closed_port_is_a_retryable_error() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    async with OpenAICompatibleLlm(base_url, "smollm2", timeout_s=5) as llm:
        with pytest.raises(EngineError) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert caught.value.retryable
    assert not isinstance(caught.value, EngineTimeout)
    assert "cannot connect" in str(caught.value)
    assert base_url in str(caught.value)


# ------------------------------------------------------------------ canned HTTP server
class Canned:
    """A one-route HTTP/1.1 server on loopback that answers every request with the same response."""

    def __init__(self, status: int = 200, body: bytes = b"", *, sse: bool = False, hang: bool = False) -> None:
        self.status, self.body, self.sse, self.hang = status, body, sse, hang
        self.requests: list[dict[str, Any]] = []
        self.headers: list[str] = []
        self.serving = LoopbackHttp(self._answer).serving

    async def _answer(self, request: Request) -> Response:
        self.headers.append(request.head)
        self.requests.append(json.loads(request.body))
        if self.hang:
            await anyio.sleep_forever()
        kind = b"text/event-stream" if self.sse else b"application/json"
        return Response(self.status, kind, self.body, b"Canned")


def sse(*chunks: dict[str, Any]) -> bytes:
    events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", **chunk} for chunk in chunks]
    return b"".join(b"data: %s\n\n" % json.dumps(event).encode() for event in events) + b"data: [DONE]\n\n"


def tool_piece(index: int, arguments: str, *, id: str | None = None, name: str | None = None) -> dict[str, Any]:
    function = {"arguments": arguments} | ({"name": name} if name else {})
    return {"index": index, "function": function} | ({"id": id, "type": "function"} if id else {})


async def test_text_tool_fragments_and_usage_are_assembled() -> None:
    body = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Let me "}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "check."}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [tool_piece(0, '{"order_', id="call_a", name="lookup")]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [tool_piece(1, "", id="call_b", name="transfer")]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [tool_piece(0, 'number": "4567"}')]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}},
    )
    canned = Canned(body=body, sse=True)
    async with canned.serving() as base_url, OpenAICompatibleLlm(base_url, "m", temperature=0.5) as llm:
        deltas = await collect(llm.stream([Message(role="user", content="hi")], [ORDER_TOOL], tool_choice="auto"))

    assert [d.text for d in deltas if d.text] == ["Let me ", "check."]
    assert tool_calls_of(deltas) == [
        ToolCallRequest(id="call_a", name="lookup", arguments={"order_number": "4567"}),
        ToolCallRequest(id="call_b", name="transfer", arguments={}),
    ]
    assert deltas[-1] == LLMDelta(
        finish_reason="tool_calls", usage={"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    )
    [request] = canned.requests
    assert request["stream"] is True and request["temperature"] == 0.5 and request["tool_choice"] == "auto"
    assert request["tools"][0]["function"]["name"] == "get_order_status"


async def test_malformed_tool_arguments_come_back_marked_invalid_not_guessed() -> None:
    """A small model writes arguments that are not JSON (or not an object): the call comes back with no
    arguments and a precise ``invalid`` reason, so the agent can tell the model instead of failing the turn."""
    body = sse(
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [tool_piece(0, '{"order_number": ', id="c", name="lookup")]}}
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [tool_piece(0, "4567,,")]}, "finish_reason": "tool_calls"}]},
    )
    async with Canned(body=body, sse=True).serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        deltas = await collect(llm.stream([Message(role="user", content="hi")]))
    [call] = [d.tool_call for d in deltas if d.tool_call is not None]
    assert (call.id, call.name, call.arguments) == ("c", "lookup", {})
    assert call.invalid is not None and "tool call 'lookup' has arguments that are not valid JSON" in call.invalid
    assert "'{\"order_number\": 4567,,'" in call.invalid

    listed = sse({"choices": [{"index": 0, "delta": {"tool_calls": [tool_piece(0, "[1, 2]", id="d", name="lookup")]}, "finish_reason": "tool_calls"}]})
    async with Canned(body=listed, sse=True).serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        deltas = await collect(llm.stream([Message(role="user", content="hi")]))
    [call] = [d.tool_call for d in deltas if d.tool_call is not None]
    assert call.arguments == {} and call.invalid is not None and "a JSON list, not an object" in call.invalid


async def test_messages_go_out_in_the_openai_wire_format() -> None:
    call = ToolCallRequest(id="call_1", name="get_order_status", arguments={"order_number": "4567"})
    messages = [
        SYSTEM,
        Message(role="user", content="Where is 4567?", name="caller"),
        Message(role="assistant", tool_calls=(call,)),
        Message(role="tool", tool_call_id="call_1", content="shipped"),
    ]
    body = sse({"choices": [{"index": 0, "delta": {"content": "Shipped."}, "finish_reason": "stop"}]})
    canned = Canned(body=body, sse=True)
    async with canned.serving() as base_url, OpenAICompatibleLlm(base_url, "m", extra_body={"top_k": 5}) as llm:
        await collect(llm.stream(messages))

    [request] = canned.requests
    assert request["messages"] == [
        {"role": "system", "content": SYSTEM.content},
        {"role": "user", "content": "Where is 4567?", "name": "caller"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_order_status", "arguments": '{"order_number": "4567"}'},
                }
            ],
        },
        {"role": "tool", "content": "shipped", "tool_call_id": "call_1"},
    ]
    assert request["top_k"] == 5
    assert "stream_options" in request


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_server_errors_are_retryable(status: int) -> None:
    body = json.dumps({"error": {"message": "busy, try later", "type": "server_error"}}).encode()
    async with Canned(status, body).serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        with pytest.raises(EngineError) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert caught.value.retryable
    assert f"HTTP {status}: busy, try later" in str(caught.value)


async def test_bad_request_is_not_retryable_and_quotes_the_server() -> None:
    message = "temperature: Input should be less than or equal to 2"
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
    async with Canned(400, body).serving() as base_url, OpenAICompatibleLlm(base_url, "m", temperature=7) as llm:
        with pytest.raises(EngineError) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert not caught.value.retryable
    assert f"HTTP 400: {message}; check the model name, temperature, max_tokens" in str(caught.value)


async def test_bad_key_is_not_retryable_and_the_key_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-secret-123456"
    monkeypatch.setenv("CALLWRIGHT_LLM_API_KEY", key)
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}."}}).encode()
    canned = Canned(401, body)
    async with canned.serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        with pytest.raises(EngineError) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert f"authorization: bearer {key}" in canned.headers[0].lower()
    assert not caught.value.retryable
    assert "check the API key (api_key or CALLWRIGHT_LLM_API_KEY)" in str(caught.value)
    assert key not in str(caught.value) and key not in repr(llm)


async def test_openai_key_is_not_sent_to_another_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLWRIGHT_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-only")
    body = sse({"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]})
    canned = Canned(body=body, sse=True)
    async with canned.serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        await collect(llm.stream([Message(role="user", content="hi")]))

    assert "sk-openai-only" not in canned.headers[0]


async def test_a_stream_cut_short_is_a_retryable_error() -> None:
    body = sse({"choices": [{"index": 0, "delta": {"content": "Your order "}, "finish_reason": None}]})
    body = body.removesuffix(b"data: [DONE]\n\n")
    seen: list[str] = []
    async with Canned(body=body, sse=True).serving() as base_url, OpenAICompatibleLlm(base_url, "m") as llm:
        with pytest.raises(EngineError, match=r"ended before the reply was finished \(no finish_reason\)") as caught:
            async for delta in llm.stream([Message(role="user", content="hi")]):
                seen.append(delta.text)

    assert seen == ["Your order "]
    assert caught.value.retryable


async def test_a_silent_server_times_out() -> None:
    async with Canned(hang=True).serving() as base_url, OpenAICompatibleLlm(base_url, "m", timeout_s=0.3) as llm:
        with pytest.raises(EngineTimeout) as caught:
            await collect(llm.stream([Message(role="user", content="hi")]))

    assert caught.value.retryable
    assert "no answer within 0.3 s" in str(caught.value)


async def test_tool_choice_must_name_a_tool() -> None:
    async with OpenAICompatibleLlm(f"http://127.0.0.1:{closed_port()}/v1", "m") as llm:
        with pytest.raises(EngineError, match=r"tool_choice 'lookup' is neither .* \['get_order_status'\]"):
            await collect(llm.stream([Message(role="user", content="hi")], [ORDER_TOOL], tool_choice="lookup"))


# ------------------------------------------------------------------ ScriptedLlm
async def test_scripted_streams_word_by_word_and_records_requests() -> None:
    llm: LanguageModel = ScriptedLlm(["Your order  shipped on Monday. "])
    question = [Message(role="user", content="Where is my order?")]
    deltas = await collect(llm.stream(question, [ORDER_TOOL]))

    assert [d.text for d in deltas[:-1]] == ["Your ", "order  ", "shipped ", "on ", "Monday. "]
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    assert isinstance(llm, ScriptedLlm)
    [request] = llm.requests
    assert request.messages == tuple(question) and request.tools == (ORDER_TOOL,) and request.tool_choice is None


async def test_scripted_tool_calls_then_text_in_order() -> None:
    call = ToolCallRequest(id="call_1", name="get_order_status", arguments={"order_number": "4567"})
    llm = ScriptedLlm([ScriptedReply(tool_calls=(call,)), "It shipped."])

    first = await collect(llm.stream([Message(role="user", content="Where is 4567?")], tool_choice="get_order_status"))
    second = await collect(llm.stream([Message(role="tool", tool_call_id="call_1", content="shipped")]))

    assert tool_calls_of(first) == [call] and text_of(first) == "" and first[-1].finish_reason == "tool_calls"
    assert text_of(second) == "It shipped." and second[-1].finish_reason == "stop"
    assert llm.requests[0].tool_choice == "get_order_status"
    assert llm.remaining == 0


async def test_scripted_fails_part_way_and_when_exhausted() -> None:
    llm = ScriptedLlm([ScriptedReply(text="Let me see", error=EngineError("boom", engine="scripted", retryable=True))])
    seen: list[str] = []
    with pytest.raises(EngineError, match="boom") as caught:
        async for delta in llm.stream([]):
            seen.append(delta.text)
    assert seen == ["Let ", "me ", "see"] and caught.value.retryable

    with pytest.raises(EngineError, match="script exhausted: request 2 but only 1 replies") as exhausted:
        await collect(llm.stream([]))
    assert not exhausted.value.retryable


async def test_scripted_latency_is_exact_on_a_virtual_clock() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm(["one two three"], first_token_s=0.25, word_interval_s=0.05, clock=clock)
    arrivals = [(delta.text, clock.now()) async for delta in llm.stream([]) if delta.text]

    assert arrivals == [("one ", 0.25), ("two ", pytest.approx(0.30)), ("three", pytest.approx(0.35))]
