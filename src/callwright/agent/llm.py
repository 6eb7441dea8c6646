"""An agent whose brain is a language model (any OpenAI-compatible endpoint).

Text streams out as the model writes it; tool calls are run and their results fed back until the
model answers in words (at most ``max_tool_rounds`` rounds). Voice rules are part of the system
prompt, because what reads well is not what sounds well.

Each tool call is held to the tool's ``timeout``, on the call's clock, and recorded as a
``tool.call`` and exactly one ``tool.result`` event (ok, error, timeout); a tool that fails or times
out gives the model an ``error`` to word for the caller, never a crashed turn. (Agent folders get
the full practices: fillers, progress, cancel-or-wait, idempotency; see ``callwright.agent.tools``.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import events as ev
from ..clock import TimedOut, within
from ..engines.base import LanguageModel, Message, ToolCallRequest, ToolChoice, ToolSpec
from ..errors import ToolArgumentError
from .base import Act, Agent, Context, Say, Turn
from .tools import ToolSignature, _jsonable, tool_spec

VOICE_RULES = (
    "You are speaking on a phone call. Reply in one to three short spoken sentences. "
    "Never use markdown, lists, emoji or URLs. Say numbers, prices and dates the way a person says them. "
    "If you are not sure what the caller said, ask them to repeat it."
)

ToolFn = Callable[..., Awaitable[Any]]


def round_choice(round_: int, last: int, first: str | None) -> str | None:
    """tool_choice for one request: forced on the first round if asked, "none" on the last, so what
    the tools found is told, never dropped unheard."""
    return "none" if round_ == last else first if round_ == 0 else None


async def model_round(
    llm: LanguageModel, messages: Sequence[Message], tools: Sequence[ToolSpec], choice: ToolChoice | None, calls: list[ToolCallRequest]
) -> AsyncIterator[Say]:
    """One request: speak the text as it streams, collect the tool calls into ``calls``."""
    async for delta in llm.stream(messages, tools, tool_choice=choice):
        if delta.text:
            yield Say(delta.text)
        if delta.tool_call is not None:
            calls.append(delta.tool_call)


@dataclass(frozen=True, slots=True)
class Tool:
    fn: ToolFn
    spec: ToolSpec
    timeout: float = 10.0  # seconds; past it the model is told the tool timed out
    signature: ToolSignature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature", ToolSignature.of(self.fn))

    @classmethod
    def from_function(cls, fn: ToolFn, description: str | None = None, *, timeout: float = 10.0) -> Tool:
        """Derive the JSON Schema of the arguments from the function's type hints (as agent tools do)."""
        return cls(fn, tool_spec(fn, description), timeout)


@dataclass
class LlmAgent(Agent):
    name: str
    llm: LanguageModel
    instructions: str
    greeting_text: str | None = None
    tools: Sequence[Tool] = ()
    max_tool_rounds: int = 3
    first_tool_choice: str | None = None  # force a tool on a turn's first request (e.g. a lookup every turn needs)
    tool_log: list[tuple[ToolCallRequest, Any]] = field(default_factory=list)

    def greeting(self, context: Context) -> str | None:
        return self.greeting_text

    async def aclose(self) -> None:
        close = getattr(self.llm, "aclose", None)
        if close is not None:
            await close()

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        messages: list[Message] = [Message("system", f"{self.instructions}\n\n{VOICE_RULES}"), *context.messages]
        by_name = {t.spec.name: t for t in self.tools}
        for round_ in range(self.max_tool_rounds + 1):
            calls: list[ToolCallRequest] = []
            choice = round_choice(round_, self.max_tool_rounds, self.first_tool_choice)
            async for say in model_round(self.llm, messages, [t.spec for t in self.tools], choice, calls):
                yield say
            if not calls:
                return
            messages.append(Message("assistant", "", tool_calls=tuple(calls)))
            for n, call in enumerate(calls):
                result = await self._run(by_name.get(call.name), call, f"{turn.index}.{round_}.{n}", turn, context)
                self.tool_log.append((call, result))
                messages.append(Message("tool", json.dumps(result, default=str), tool_call_id=call.id, name=call.name))

    async def _run(self, tool: Tool | None, call: ToolCallRequest, call_id: str, turn: Turn, context: Context) -> Any:
        """One tool call, within its timeout; what the model gets back. Recorded as tool.call and one tool.result."""

        def emit(event: ev.Event) -> None:
            if context.emit is not None:
                context.emit(event)

        emit(ev.ToolCalled(turn=turn.index, call=call_id, name=call.name, arguments=dict(call.arguments)))
        clock = context.clock
        started = clock.now()
        status: str = "error"
        error: str | None = None
        result: Any = None
        if tool is None:
            error = f"no tool named {call.name!r}"
        else:
            try:
                arguments = tool.signature.validate(call.arguments)
                result = await within(clock, tool.timeout, lambda: tool.fn(**arguments))
                if isinstance(result, TimedOut):
                    raise TimeoutError  # told below, as a time limit of the tool's own is
                status = "ok"
            except ToolArgumentError as exc:
                error = exc.message  # the model reads what was wrong and may call again
            except TimeoutError:  # past the timeout, or a time limit of the tool's own (a client's)
                status, error, result = "timeout", f"{call.name} gave no result within {tool.timeout:g} s", None
            except Exception as exc:  # the tool is user code: its failure is told, not a crashed turn
                error = f"{call.name} failed: {type(exc).__name__}: {exc}"
        ms = round((clock.now() - started) * 1000, 1)
        emit(ev.ToolResult(turn=turn.index, call=call_id, name=call.name, status=status, result=_jsonable(result), error=error, ms=ms))  # type: ignore[arg-type]
        return result if status == "ok" else {"error": error}
