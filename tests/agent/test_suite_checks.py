"""The checks of a conversation suite (``callwright.testing.conversations``), on a scripted agent."""

from __future__ import annotations

from callwright.agent.scripted import Rule, ScriptedAgent
from callwright.testing.conversations import Suite, run_suite

REPLY = "We open at 9 a.m. tomorrow, so call back then. Bye for now."


async def test_the_first_sentence_is_cut_by_the_one_sentence_splitter() -> None:
    """``starts_with_any`` reads the reply's first sentence as shaping cuts it: "a.m." does not end it."""
    suite = Suite.model_validate(
        {
            "conversations": [
                {"name": "in the first sentence", "turns": [{"say": "are you open", "expect": {"starts_with_any": "call back"}}]},
                {"name": "in the second", "turns": [{"say": "are you open", "expect": {"starts_with_any": "bye for now"}}]},
            ]
        }
    )
    agent = ScriptedAgent(name="hours", greeting_text=None, rules=[Rule(["open"], REPLY)])
    result = await run_suite(suite, lambda: agent)
    assert [t.passed for t in result.transcripts] == [True, False]
    (failure,) = result.failures
    assert failure.check == "starts_with_any" and failure.conversation == "in the second"
