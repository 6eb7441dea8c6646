"""Agents the end-to-end tests load through the public 'module:factory' setting."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from callwright.agent.base import Act, Agent, Context, Turn
from callwright.agent.llm import LlmAgent
from callwright.agent.scripted import ScriptedAgent, front_desk
from callwright.agent.tools import tool
from callwright.engines.llm.openai_compat import OpenAICompatibleLlm

CONTEXTS: list[list[tuple[str, str]]] = []  # the context each turn was answered with (server runs in-process)
TOOL_CALLS: list[dict[str, object]] = []


class ContextProbe(Agent):
    """The front desk, recording the conversation context it sees on every turn."""

    def __init__(self) -> None:
        self._inner: ScriptedAgent = front_desk()
        self.name = "context-probe"

    def greeting(self, context: Context) -> str | None:
        return self._inner.greeting(context)

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        CONTEXTS.append([(m.role, m.content) for m in context.messages])
        async for act in self._inner.respond(turn, context):
            yield act


def context_probe() -> ContextProbe:
    return ContextProbe()


async def get_order_status(order_number: str) -> dict[str, str]:
    """Look up where an order is."""
    TOOL_CALLS.append({"order_number": order_number})
    return {"order_number": order_number, "status": "out for delivery", "eta_minutes": "20"}


def llm_with_tool() -> LlmAgent:
    llm = OpenAICompatibleLlm(os.environ["E2E_LLM_URL"], "smollm2", temperature=0.0, max_tokens=40)
    return LlmAgent(
        name="llm-order-desk",
        llm=llm,
        instructions="You help callers check their order status. Use the tool to look orders up.",
        tools=[tool(get_order_status)],
        first_tool_choice="get_order_status",
    )
