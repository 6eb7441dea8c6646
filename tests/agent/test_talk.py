"""Talk about the talk, held-out-11's classes: a wait with a reason, "are you still there?", a
hedged yes, a count announced before the questions, a repeat request with a reason, an aside to
someone in the room, a number said twice, a repair inside a free-text answer, and a garbled turn
whose words happen to lift every passage a little. Phrasings are our own, across several Englishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from callwright import events as ev
from callwright.agent.mishearing import clearly_answered
from callwright.agent.reading import (
    find_values,
    meta_request,
    questions,
    repaired_text,
    said_once,
    without_asides,
    yes_no,
)
from callwright.testing import TextCall

NOW = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("said", "meta"),
    [
        # a wait, with what the caller goes to do
        ("please wait, let me find my glasses", "wait"),
        ("bear with me", "wait"),
        ("bear with me a sec love, I'll grab a biro", "wait"),
        ("just a mo, let me get a pencil", "wait"),
        ("um please hang on, I need to fetch my diary", "wait"),
        # is anyone there
        ("hello? are you there?", "presence"),
        ("you still with me?", "presence"),
        ("hiya, is anybody there", "presence"),
        ("hello hello, can you hear me?", "presence"),
        ("have I lost you?", "presence"),
        ("can you hear me when I breathe in, is that normal", None),
        ("is anyone there to deliver on sunday", None),
        # hear it again, with why
        ("sorry, the kettle's going, what did you say the fee was", "repeat"),
        ("what'd ya say the total came to", "repeat"),
        ("the baby was crying, come again?", "repeat"),
        ("what did you say about the delivery fee last week", None),
    ],
)
def test_talk_about_the_talk(said: str, meta: str | None) -> None:
    assert meta_request(said) == meta


@pytest.mark.parametrize(
    ("said", "value", "clear"),
    [
        ("I suppose so", True, False),
        ("yeah, I reckon so", True, False),
        ("guess so", True, False),
        ("ok, if you like", True, False),
        ("might as well", True, False),
        ("yeah go on then, why not", True, False),
        ("yes please", True, True),
        ("I think so, but check with my wife", None, False),  # more than a yes: not read as one
    ],
)
def test_a_hedged_yes_is_a_yes_but_not_a_clear_one(said: str, value: bool | None, clear: bool) -> None:
    yes = yes_no(said)
    assert (yes.value, yes.clear) == (value, clear)


@pytest.mark.parametrize(
    ("said", "asked"),
    [
        ("I've got two questions, how long do I keep the stockings on and can I have a shower",
         ["how long do i keep the stockings on", "can i have a shower"]),
        ("couple of quick things: when is the shop open and do you deliver to the farm",
         ["when is the shop open", "do you deliver to the farm"]),
    ],
)
def test_a_count_said_first_leaves_the_questions(said: str, asked: list[str]) -> None:
    assert questions(said) == asked


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("sorry, I was just talking to the dog, not you. five please", "five please"),
        ("hang on kids, I'm on the phone", ""),
        ("sorry not you love, where were we, the address is 9 Elm Road", "the address is 9 elm road"),
        ("four please", "four please"),
        ("it's not your fault", "it's not your fault"),
    ],
)
def test_an_aside_to_the_room_is_not_said_to_the_agent(said: str, kept: str) -> None:
    assert without_asides(said) == kept


@pytest.mark.parametrize(
    ("said", "once"),
    [
        ("six six please", "six please"),
        ("um oh two two", "um two"),
        ("er five no four, four's fine", "er five no four's fine"),
        ("four four five six", "four four five six"),  # digits of a number: kept
        ("oh seven seven", "seven"),  # "oh" before a count is a filler
        ("three", "three"),
    ],
)
def test_a_number_said_twice_is_said_once(said: str, once: str) -> None:
    assert said_once(said) == once


@pytest.mark.parametrize(
    ("said", "count"),
    [("six six please", 6), ("er five no four, four's fine", 4), ("sorry, two, two", 2), ("twenty two", 22)],
)
def test_a_count_said_twice_is_that_count(said: str, count: int) -> None:
    found = find_values(said, {"quantity": "number"}, now=NOW, whole="quantity")
    assert found["quantity"].value == count


@pytest.mark.parametrize(
    ("said", "reason"),
    [
        ("my knee, I mean my hip", "my hip"),
        ("the stitches. actually, the stockings", "the stockings"),
        ("the pain relief, no wait, the dressing", "the dressing"),
        ("pain when I walk", "pain when I walk"),
        ("no idea really", "no idea really"),
    ],
)
def test_a_repair_inside_free_text_keeps_the_repaired_part(said: str, reason: str) -> None:
    assert repaired_text(said) == reason


def test_the_reason_field_keeps_the_repaired_part() -> None:
    found = find_values("the catheter bag, sorry, I mean the stitches", {"reason": "text"}, now=NOW, whole="reason")
    assert found["reason"].value == "the stitches"


@pytest.mark.parametrize(
    ("scores", "answered"),
    [
        ([0.50, 0.495, 0.44], False),  # garbled: high and flat
        ([0.50, 0.40], True),  # well above, and ahead
        ([0.44, 0.32], True),  # a little above, clearly ahead
        ([0.44, 0.40], False),
    ],
)
def test_a_doubtful_turn_needs_a_document_that_stands_out(scores: list[float], answered: bool) -> None:
    assert clearly_answered(scores, 0.33) is answered


async def test_are_you_there_is_answered_and_the_question_asked_again(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("order-desk")) as c:
        await c.greeting()
        asked = await c.say("I'd like to order some bananas")
        reply = await c.say("hello? you still with me?")
        again = await c.say("say that again please")
    assert reply == f"Yes, I'm here. {asked}"
    assert again == asked  # the question is what was said last, not "yes, I'm here"


async def test_an_aside_then_a_doubled_count_gives_that_count(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("order-desk")) as c:
        await c.greeting()
        await c.say("I'd like to order some bananas")
        reply = await c.say("sorry, I was talking to my daughter, not you. where was I, oh three three")
        await c.say("12 Baker Street")
        summary = await c.say("that's it")
    assert "address" in reply.lower()
    assert "three bananas" in summary.lower()
    assert not c.events(ev.Misheard)
