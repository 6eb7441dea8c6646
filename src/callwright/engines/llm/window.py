"""Fitting a call's messages into a model's context window.

A long call outgrows a small model's window (2,048 tokens for a local SmolLM2 server, 8,192 for many
open 7-8B models). The server then refuses the request (HTTP 400, "maximum context length is 2048
tokens") or, llama-cpp-python streaming, sends an empty stream, and the caller hears the fallback
line from then on. :func:`fit` keeps what the model needs to answer this turn and drops the rest:

* the system prompt and the current turn (the last user message and the tool rounds after it) are
  kept whole;
* the oldest turns go first; an assistant message that called tools goes with its results, so no
  tool result is ever left without the call it answers;
* if that is not enough, the longest tool results of this turn are shortened.

Tokens are estimated from characters: no tokenizer is loaded (each model has its own, and a call
cannot wait for one to load). The estimate is deliberately high (three characters a token; English
averages about four), and :class:`Window` calibrates it with the counts a server reports when it
refuses a prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ...errors import EngineError
from ..base import Message, ToolSpec

CHARS_PER_TOKEN = 3.0  # a high estimate for English and JSON in BPE tokenizers (about 4 on average)
MESSAGE_OVERHEAD = 6  # tokens a chat template adds around each message (role markers, separators)
REPLY_RESERVE = 256  # tokens kept free for the reply when max_tokens is not set
SHORTENED = " …(shortened to fit the model's context)"
_LIMIT = re.compile(r"(?:maximum|max)[ _]context[ _]length(?: is|:|=)? *(\d+)", re.IGNORECASE)
_PROMPT = (  # how many tokens the refused prompt had, in the wordings servers use, most precise first
    re.compile(r"(\d+) (?:tokens )?in the messages", re.IGNORECASE),  # OpenAI, llama-cpp-python
    re.compile(r"request has (\d+) input tokens", re.IGNORECASE),  # vLLM
)


class ContextTooSmall(EngineError):
    """Even the system prompt, the tools and this turn alone do not fit the model's window."""


@dataclass
class Window:
    """What is known of one model's context window: its size, and how many characters make a token.

    ``tokens`` is None until configured or learned from a refusal (:meth:`learn`).
    """

    tokens: int | None = None
    chars_per_token: float = CHARS_PER_TOKEN

    def learn(self, server_says: str, sent_chars: int) -> bool:
        """Read the window size (and the prompt's real size) out of a server's refusal.

        OpenAI, vLLM and llama-cpp-python word it alike: "This model's maximum context length is
        2048 tokens. However, you requested 2112 tokens (2048 in the messages, 64 in the
        completion)". Returns whether the message was such a refusal.
        """
        limit = _LIMIT.search(server_says)
        if limit is None:
            return False
        self.tokens = int(limit.group(1))
        counts = (int(m.group(1)) for p in _PROMPT if (m := p.search(server_says)))
        counted = next(counts, 0)
        if counted and sent_chars:
            # A server that counts a prompt it refuses may stop counting at the limit: the real
            # ratio is then lower still, so never trust it to raise the estimate's ratio.
            self.chars_per_token = min(self.chars_per_token, sent_chars / counted)
        return True

    def fit(self, messages: Sequence[Message], tools: Sequence[ToolSpec], reply_tokens: int | None) -> list[Message]:
        if self.tokens is None:
            return list(messages)
        budget = int(self.tokens * 0.95) - (reply_tokens or REPLY_RESERVE)
        return fit(messages, tools, budget, self.chars_per_token)


def characters(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
    """The characters a request's messages and tools put in the prompt (tool schemas as JSON)."""
    text = sum(len(m.content) + sum(len(c.name) + len(json.dumps(c.arguments)) for c in m.tool_calls) for m in messages)
    schemas = sum(len(json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters})) for t in tools)
    return text + schemas


def estimate(messages: Sequence[Message], tools: Sequence[ToolSpec] = (), chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """Estimated prompt tokens of ``messages`` with ``tools`` offered."""
    return int(characters(messages, tools) / chars_per_token) + MESSAGE_OVERHEAD * len(messages)


def fit(
    messages: Sequence[Message], tools: Sequence[ToolSpec], budget: int, chars_per_token: float = CHARS_PER_TOKEN
) -> list[Message]:
    """``messages`` with the oldest turns dropped (then this turn's tool results shortened) to fit ``budget`` tokens.

    Raises :class:`ContextTooSmall` when the system prompt, the tools and this turn's caller words
    alone are over the budget.
    """

    def cost(kept: Sequence[Message]) -> int:
        return estimate(kept, tools, chars_per_token)

    if cost(messages) <= budget:
        return list(messages)
    head = [m for m in messages[:1] if m.role == "system"]
    body = list(messages[len(head) :])
    last_user = max((i for i, m in enumerate(body) if m.role == "user"), default=len(body))
    history, turn = body[:last_user], body[last_user:]
    groups = _groups(history)
    while groups and cost([*head, *_flat(groups), *turn]) > budget:
        groups.pop(0)
    kept = [*head, *_flat(groups), *turn]
    if cost(kept) <= budget:
        return kept
    # Still over with no history left: shorten this turn's tool results, longest first.
    over = cost(kept) - budget
    for index in sorted(
        (i for i, m in enumerate(kept) if m.role == "tool"), key=lambda i: len(kept[i].content), reverse=True
    ):
        if over <= 0:
            break
        content = kept[index].content
        cut = min(len(content), int((over + 1) * chars_per_token) + len(SHORTENED))
        keep = max(len(content) - cut, 0)
        kept[index] = replace(kept[index], content=content[:keep] + SHORTENED)
        over = cost(kept) - budget
    if over > 0:
        raise ContextTooSmall(
            f"the prompt needs about {cost(kept)} tokens but only {budget} are free for it: "
            f"the system prompt is about {estimate(head, (), chars_per_token)} tokens and the {len(tools)} tools' "
            f"schemas about {estimate([], tools, chars_per_token)}; give the model a larger context (llama.cpp: "
            "--n_ctx or -c), shorten the persona, or offer fewer tools",
            engine="context",
        )
    return kept


def _groups(history: Sequence[Message]) -> list[list[Message]]:
    """The history as units to drop whole: a message, or an assistant tool call with its results."""
    groups: list[list[Message]] = []
    for message in history:
        if message.role == "tool" and groups and (groups[-1][0].tool_calls):
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _flat(groups: Sequence[Sequence[Message]]) -> list[Message]:
    return [m for group in groups for m in group]
