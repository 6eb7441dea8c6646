"""An agent whose brain is a language model (any OpenAI-compatible endpoint), defined in code.

Text streams out as the model writes it; the tools it calls are run and their results fed back
until the model answers in words (at most ``max_tool_rounds`` rounds). Voice rules are part of the
system prompt, because what reads well is not what sounds well.

Its tools are agent tools (:func:`~callwright.agent.tools.tool`; a plain async function will do:
``tool(get_order, timeout=5)``), run by a :class:`~callwright.agent.tools.ToolRunner` as an agent
folder's are: the filler when a tool is slow, the timeout on the call's clock, one ``tool.call`` and
exactly one ``tool.result`` event per call, cancel-or-wait when the caller interrupts (a result that
comes after the interruption is given to the model on the next turn), and an idempotency key for a
tool with side effects. A tool that fails or times out gives the model an ``error`` to word for the
caller, never a crashed turn. Unlike an agent folder's LLM brain, nothing asks the caller to confirm
before the model runs a side effect, and background jobs are refused.

``respond`` needs what a Call sets on the :class:`~callwright.agent.base.Context` while a reply
runs: ``tasks`` (the reply's task group, where the runner starts the tool), ``clock`` and ``emit``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from .. import events as ev
from ..engines.base import LanguageModel, Message, ToolCallRequest, ToolSpec
from ..errors import ConfigError
from .base import Act, Agent, Context, Say, Turn
from .tools import AgentTool, Outcome, ToolRunner

VOICE_RULES = (
    "You are speaking on a phone call. Reply in one to three short spoken sentences. "
    "Never use markdown, lists, emoji or URLs. Say numbers, prices and dates the way a person says them. "
    "If you are not sure what the caller said, ask them to repeat it."
)


async def tool_rounds(
    llm: LanguageModel, messages: list[Message], tools: Sequence[ToolSpec], *, max_rounds: int, first_choice: str | None = None,
    emit: Callable[[ev.Event], None] | None = None,
) -> AsyncGenerator[Say | ToolCallRequest, None]:
    """A model's reply to ``messages``, round by round: its text as it streams (``Say``), and each
    function it calls (``ToolCallRequest``). Answer a call with ``messages.append(answer(call, result))``
    before taking the next item, or leave the loop to end the reply there. Once a round's calls are
    answered the model is asked again, until it answers in words. The first request may force a
    function (``first_choice``); the last of ``max_rounds + 1`` allows none, so what the tools found is
    told, never dropped unheard. The one loop of both LLM agents: :class:`LlmAgent` and the LLM brain.

    A call whose arguments could not be read (``ToolCallRequest.invalid``), or of a function that was
    not offered, is answered here with what was wrong, reported to ``emit`` as an ``error`` event, and
    not yielded: nothing runs on a guess, and the model may call again in its next round.
    """
    for round_ in range(max_rounds + 1):
        choice = "none" if round_ == max_rounds else first_choice if round_ == 0 else None
        calls: list[ToolCallRequest] = []
        async for delta in llm.stream(messages, tools, tool_choice=choice):
            if delta.text:
                yield Say(delta.text)
            if delta.tool_call is not None:
                calls.append(delta.tool_call)
        if not calls:
            return
        messages.append(Message("assistant", "", tool_calls=tuple(calls)))
        offered = {t.name for t in tools}
        for call in calls:
            if call.invalid is not None or call.name not in offered:
                why = call.invalid or f"the model called {call.name!r}, which is not one of its functions"
                fix = f"Call {call.name} again with its arguments as one JSON object." if call.invalid else f"Use one of: {', '.join(sorted(offered)) or 'none'}."
                if emit is not None:
                    emit(ev.ErrorEvent(code="llm", message=f"{llm.name}: {why}", stage="llm"))
                messages.append(answer(call, {"status": "error", "error": f"{why}. {fix}"}))
                continue
            yield call
            if messages[-1].tool_call_id != call.id:
                raise RuntimeError(f"tool_rounds: the model's call of {call.name!r} was not answered; append answer(call, result) to the messages")


def answer(call: ToolCallRequest, result: Any) -> Message:
    """The message that gives the model what its call of a function came to."""
    return Message("tool", json.dumps(result, default=str), tool_call_id=call.id, name=call.name)


def told(outcome: Outcome) -> dict[str, Any]:
    """What the model reads of a tool call's outcome (its ``error`` is for it to word for the caller)."""
    return {"status": outcome.status, "result": outcome.result, "error": outcome.error}


@dataclass
class LlmAgent(Agent):
    name: str
    llm: LanguageModel
    instructions: str
    greeting_text: str | None = None
    tools: Sequence[AgentTool] = ()  # tool(fn, timeout=...) makes one of an async function
    max_tool_rounds: int = 3
    first_tool_choice: str | None = None  # force a tool on a turn's first request (e.g. a lookup every turn needs)
    runner: ToolRunner = field(default_factory=ToolRunner)  # give it a Store as its ledger to keep side effects across restarts

    def __post_init__(self) -> None:
        for t in self.tools:
            if t.options.background:
                raise ConfigError(
                    f"agent {self.name!r}: tool {t.name!r} is a background job, which only an agent folder can queue; "
                    "drop background=True to run it in the call"
                )

    def greeting(self, context: Context) -> str | None:
        return self.greeting_text

    async def aclose(self) -> None:
        close = getattr(self.llm, "aclose", None)
        if close is not None:
            await close()

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        prompt = [self.instructions, VOICE_RULES]
        for outcome in self.runner.late:  # a tool that waited on through the caller's interruption
            prompt.append(f"While the caller interrupted you, {outcome.name} finished with {json.dumps(outcome.result, default=str)}: tell them first.")
        self.runner.late.clear()
        messages: list[Message] = [Message("system", "\n\n".join(prompt)), *context.messages]
        by_name = {t.name: t for t in self.tools}
        rounds = tool_rounds(
            self.llm, messages, [t.spec for t in self.tools], max_rounds=self.max_tool_rounds, first_choice=self.first_tool_choice,
            emit=context.emit,
        )
        async with aclosing(rounds):
            async for call in rounds:
                if isinstance(call, Say):  # the model's words
                    yield call
                    continue
                result: Any = None
                async for step in self.runner.run(by_name[call.name], call.arguments, turn=turn.index, context=context):
                    if isinstance(step, Say):
                        yield step  # the filler, the tool's progress
                    else:
                        result = told(step)
                messages.append(answer(call, result))
