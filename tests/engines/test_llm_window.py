"""Fitting a call's messages into a model's context window (``engines/llm/window.py``), and the
OpenAI-compatible engine that fits them: configured, or learned from a server's refusal.

The real-server test runs SmolLM2 behind llama-cpp-python, told a window smaller than the server's.
"""

from __future__ import annotations

import json

import pytest
from test_llm_openai import ORDER_TOOL, SYSTEM, Canned, collect, text_of

from callwright.engines.base import Message, ToolCallRequest
from callwright.engines.llm.openai_compat import OpenAICompatibleLlm
from callwright.engines.llm.window import SHORTENED, ContextTooSmall, Window, estimate, fit
from callwright.errors import EngineError
from loopback_http import Request, Response

REFUSAL = (
    "This model's maximum context length is 2048 tokens. However, you requested 2112 tokens "
    "(2048 in the messages, 64 in the completion). Please reduce the length of the messages or completion."
)


def turn(number: int) -> list[Message]:
    return [
        Message("user", f"caller turn {number}: " + "I would like some bread and some milk please. " * 3),
        Message("assistant", f"agent turn {number}: " + "Sure, I can help with that order today. " * 3),
    ]


def tool_round(number: int, result_chars: int = 200) -> list[Message]:
    call = ToolCallRequest(id=f"call_{number}", name="get_order_status", arguments={"order_number": str(number)})
    return [
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", json.dumps({"status": "ok", "result": "x" * result_chars}), tool_call_id=call.id, name=call.name),
    ]


def long_call(turns: int) -> list[Message]:
    history = [m for n in range(turns) for m in turn(n)]
    return [SYSTEM, *history, Message("user", "and what time do you close tonight?")]


# ------------------------------------------------------------------ fit, without a server
def test_what_fits_is_sent_as_it_is() -> None:
    messages = long_call(2)
    assert fit(messages, [ORDER_TOOL], budget=10_000) == messages


def test_the_oldest_turns_go_first_and_the_system_prompt_and_this_turn_stay() -> None:
    messages = long_call(30)
    budget = estimate([SYSTEM, *turn(28), *turn(29), messages[-1]], [ORDER_TOOL])
    kept = fit(messages, [ORDER_TOOL], budget)

    assert kept[0] == SYSTEM and kept[-1] == messages[-1]
    assert estimate(kept, [ORDER_TOOL]) <= budget
    # What stays is the latest history, in order, with nothing in between dropped.
    middle = kept[1:-1]
    assert middle == messages[len(messages) - 1 - len(middle) : -1]
    assert len(middle) == 4, "two whole turns fit the budget made for two"


def test_a_tool_call_is_dropped_with_its_results_never_apart() -> None:
    history = [*turn(0), *tool_round(1), *turn(2), *tool_round(3), *turn(4)]
    messages = [SYSTEM, *history, Message("user", "thanks, and the other one?")]
    for budget in range(estimate([SYSTEM, messages[-1]], []), estimate(messages, []) + 1, 7):
        kept = fit(messages, [], budget)
        answered = {m.tool_call_id for m in kept if m.role == "tool"}
        called = {c.id for m in kept for c in m.tool_calls}
        assert answered == called, f"budget {budget}: results {answered} vs calls {called}"


def test_this_turns_tool_rounds_are_kept_and_their_longest_result_shortened() -> None:
    messages = [SYSTEM, *turn(0), Message("user", "where is order 7?"), *tool_round(7, result_chars=6000)]
    budget = estimate([SYSTEM, messages[3], *tool_round(7, result_chars=600)], [ORDER_TOOL])
    kept = fit(messages, [ORDER_TOOL], budget)

    assert [m.role for m in kept] == ["system", "user", "assistant", "tool"], "the old turn went; this turn stayed"
    assert kept[-1].content.endswith(SHORTENED) and len(kept[-1].content) < 6000
    assert kept[-1].content.startswith('{"status": "ok"')
    assert estimate(kept, [ORDER_TOOL]) <= budget


def test_a_prompt_that_cannot_fit_says_what_takes_the_room() -> None:
    huge_system = Message("system", "You are an agent. " * 2000)
    with pytest.raises(ContextTooSmall) as caught:
        fit([huge_system, Message("user", "hi")], [ORDER_TOOL], budget=1000)

    message = str(caught.value)
    assert "the system prompt is about 12006 tokens" in message
    assert "the 1 tools' schemas about" in message
    assert "--n_ctx" in message and not caught.value.retryable


def test_the_window_is_read_from_a_servers_refusal() -> None:
    window = Window()
    assert not window.learn("temperature: Input should be less than or equal to 2", 9000)
    assert window.tokens is None

    assert window.learn(REFUSAL, sent_chars=5120)
    assert window.tokens == 2048
    assert window.chars_per_token == 2.5, "5,120 characters were 2,048 tokens (at least)"
    # A ratio above the default is not trusted: a server may stop counting at its limit.
    high = Window()
    assert high.learn(REFUSAL, sent_chars=8192) and high.chars_per_token == 3.0
    # vLLM's wording
    vllm = Window()
    assert vllm.learn("This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens.", 12_500)
    assert vllm.tokens == 4096 and vllm.chars_per_token == 2.5


# ------------------------------------------------------------------ the engine, with a canned server
class Refusing(Canned):
    """Refuses the first request as too long (as OpenAI and llama-cpp-python word it), then answers."""

    def __init__(self) -> None:
        answer = {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "We close at nine."}}],
        }  # fmt: skip
        super().__init__(200, json.dumps(answer).encode())
        self.refusal = json.dumps({"error": {"message": REFUSAL, "type": "invalid_request_error"}}).encode()

    async def _answer(self, request: Request) -> Response:
        if not self.requests:
            status, body = self.status, self.body
            self.status, self.body = 400, self.refusal
            try:
                return await super()._answer(request)
            finally:
                self.status, self.body = status, body
        return await super()._answer(request)


async def test_a_refused_prompt_is_fitted_to_the_window_the_server_names_and_sent_again() -> None:
    messages = long_call(60)
    server = Refusing()
    async with server.serving() as url, OpenAICompatibleLlm(url, "m", max_tokens=64, stream_auto_tools=False) as llm:
        reply = text_of(await collect(llm.stream(messages, [ORDER_TOOL])))
        again = text_of(await collect(llm.stream(messages, [ORDER_TOOL])))

    first, second, third = server.requests
    assert len(first["messages"]) == len(messages)
    assert llm.window.tokens == 2048
    assert second["messages"][0]["content"] == SYSTEM.content
    assert second["messages"][-1]["content"] == "and what time do you close tonight?"
    assert len(second["messages"]) < len(messages)
    assert reply == again == "We close at nine."
    assert third["messages"] == second["messages"], "once learned, the window is used from the first request"


async def test_a_refusal_that_is_not_about_length_is_not_sent_again() -> None:
    body = json.dumps({"error": {"message": "temperature too high", "type": "invalid_request_error"}}).encode()
    server = Canned(400, body)
    async with server.serving() as url, OpenAICompatibleLlm(url, "m") as llm:
        with pytest.raises(EngineError, match="HTTP 400: temperature too high"):
            await collect(llm.stream([Message("user", "hi")]))
    assert len(server.requests) == 1


# ------------------------------------------------------------------ the real server
@pytest.mark.slow
async def test_a_long_call_is_answered_by_a_real_server_with_a_small_window(llm_server: str) -> None:
    # Told a window of 2,048 tokens (a quarter of the server's), a call of about 5,000 tokens is
    # fitted and answered, streamed and not. (Learning the window from a refusal is shown with a
    # canned server above, in llama-cpp-python's own words: with this server's 8,192 tokens a
    # learned window would mean two prompts of 8,000 tokens, a minute each on two cores.)
    messages = long_call(40)
    assert estimate(messages) > 2 * 2048
    async with OpenAICompatibleLlm(
        llm_server, "smollm2", temperature=0, max_tokens=16, context_tokens=2048, timeout_s=240, stream_auto_tools=False
    ) as llm:
        streamed = await collect(llm.stream(messages))
        whole = await collect(llm.stream(messages, [ORDER_TOOL]))  # asked without streaming: usage is counted
    assert streamed[-1].finish_reason in {"stop", "length"} and text_of(streamed).strip()
    assert whole[-1].finish_reason is not None
    assert 0 < whole[-1].usage["prompt_tokens"] <= 2048 - 16, "the server counted a prompt that fits the window"
