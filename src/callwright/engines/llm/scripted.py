"""A deterministic :class:`~callwright.engines.base.LanguageModel` that plays back canned replies.

Each call to :meth:`ScriptedLlm.stream` takes the next :class:`ScriptedReply`: its text is streamed
word by word (the pieces join back to the exact text), then each tool call as one delta, then a last
delta with the ``finish_reason`` and a word-count ``usage``. A reply with an ``error`` streams its text
and then raises the error, so a test can fail a turn before or part-way through the reply. Every
request is recorded in :attr:`ScriptedLlm.requests` for assertions.

Delays, when asked for, are taken on an injected :class:`~callwright.clock.Clock`, so a test on a
:class:`~callwright.clock.VirtualClock` sees exact latencies without waiting.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import anyio.lowlevel

from ...clock import Clock, MonotonicClock
from ...errors import EngineError
from ..base import LLMDelta, Message, ToolCallRequest, ToolChoice, ToolSpec

_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One canned reply: ``text`` and/or ``tool_calls``; ``error`` is raised after ``text`` streamed."""

    text: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class ScriptedRequest:
    """What one :meth:`ScriptedLlm.stream` call was asked."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    tool_choice: ToolChoice | None


class ScriptedLlm:
    """Replies with ``replies`` in order; a plain ``str`` is short for ``ScriptedReply(text=...)``.

    ``first_token_s`` is waited before the first delta of every reply and ``word_interval_s`` between
    words. Asking for more replies than the script holds raises a non-retryable ``EngineError``.
    """

    def __init__(
        self,
        replies: Iterable[ScriptedReply | str],
        *,
        name: str = "scripted",
        first_token_s: float = 0.0,
        word_interval_s: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.replies = [ScriptedReply(text=r) if isinstance(r, str) else r for r in replies]
        self.requests: list[ScriptedRequest] = []
        self.first_token_s = first_token_s
        self.word_interval_s = word_interval_s
        self._clock = clock or MonotonicClock()

    @property
    def remaining(self) -> int:
        """How many replies have not been played yet."""
        return max(0, len(self.replies) - len(self.requests))

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        tool_choice: ToolChoice | None = None,
    ) -> AsyncIterator[LLMDelta]:
        """Stream the next reply. ``tool_choice`` is recorded, not obeyed: the script decides."""
        index = len(self.requests)
        self.requests.append(ScriptedRequest(tuple(messages), tuple(tools), tool_choice))
        if index >= len(self.replies):
            raise EngineError(
                f"{self.name}: script exhausted: request {index + 1} but only {len(self.replies)} "
                "replies were scripted; add more ScriptedReply entries",
                engine=self.name,
            )
        reply = self.replies[index]

        await self._wait(self.first_token_s)
        words = [word for word in _WORD_BOUNDARY.split(reply.text) if word]
        for number, word in enumerate(words):
            if number:
                await self._wait(self.word_interval_s)
            yield LLMDelta(text=word)
        if reply.error is not None:
            raise reply.error
        for call in reply.tool_calls:
            await anyio.lowlevel.checkpoint()
            yield LLMDelta(tool_call=call)
        usage = {"prompt_tokens": sum(len(m.content.split()) for m in messages), "completion_tokens": len(words)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        yield LLMDelta(finish_reason="tool_calls" if reply.tool_calls else "stop", usage=usage)

    async def aclose(self) -> None:
        """Nothing to release; here so tests can treat every engine alike."""

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self._clock.sleep_until(self._clock.now() + seconds)
        else:
            await anyio.lowlevel.checkpoint()
