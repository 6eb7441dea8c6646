"""The scripted demo agent reads a turn with the agent layer's one tokenizer (``agent/text.py``)."""

from __future__ import annotations

from callwright.agent.scripted import front_desk
from callwright.testing import TextCall


async def test_rules_match_the_words_as_the_agent_layer_reads_them() -> None:
    async with TextCall(front_desk()) as c:
        await c.greeting()
        assert await c.say("cheers, see ya") == "Thanks for calling. Goodbye!"  # normalise: "see ya" is "bye"
        assert (await c.ended()).reason == "agent_hangup"
