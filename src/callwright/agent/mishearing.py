"""Knowing when it misheard: a turn recognised with low confidence that matches nothing with
confidence is asked again, never acted on as a guess; a second miss offers another way.

"Matches nothing with confidence" means: no value of the kind the agent asked for that makes up
most of the answer, no clear yes or no to a yes/no question, no intent above the agent's
``understanding.strong_match``, and no document well above the knowledge threshold and ahead of the
next passage. Keypad digits (DTMF) are collected until ``#`` and then read as one answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

from .. import events as ev
from .base import Act, Say, Turn
from .reading import coverage
from .state import Question

if TYPE_CHECKING:
    from .dialogue import Dialogue
    from .state import Brain, Reading


async def misheard(d: Dialogue, turn: Turn, reading: Reading) -> bool:
    """Low recognition confidence, and nothing in the turn that we understand with confidence."""
    threshold = d.spec.understanding.misheard_below
    if turn.source != "speech" and turn.source != "text":
        return False
    if turn.confidence is None or turn.confidence >= threshold:
        return False
    q = d.question
    if q is not None:
        if q.kind in ("slot", "field") and d.task is not None:
            found = d.find(d.task, reading, missing_only=True, whole=q.name)
            value = found.get(q.name)
            kind = d.kind(d.task, q.name)
            if value is not None and kind != "text" and value.certainty >= 0.75 and coverage(value, turn.text) > 0.5:
                return False
        elif reading.yes.value is not None and reading.yes.clear:
            return False
    if reading.strong_intent is not None:
        return False
    knowledge = d.app.knowledge
    if knowledge is not None:
        answer = await knowledge.asearch(reading.resolved)
        if answer.hits and clearly_answered([h.score for h in answer.hits], knowledge.min_score):
            return False
    return True

# A document answers a doubtful turn when it scores well above the knowledge threshold and is not
# tied with the next passage, or a little above it and clearly ahead: words garbled by the
# recogniser score flat across passages (a few common words, "bag", "tap", can lift them all); a
# clear question ("when can I go swimming") picks one out.
WELL_ABOVE = 0.15
ABOVE = 0.1
AHEAD = 0.1
UNTIED = 0.05


def clearly_answered(scores: list[float], min_score: float) -> bool:
    if not scores:
        return False
    top, second = scores[0], (scores[1] if len(scores) > 1 else 0.0)
    lead = top - second
    return (top >= min_score + WELL_ABOVE and lead >= UNTIED) or (top >= min_score + ABOVE and lead >= AHEAD)


async def say_misheard(d: Dialogue, turn: Turn) -> AsyncIterator[Act]:
    d.misses += 1
    q = d.question
    offered: Literal["dtmf", "link", "person"] | None = None
    if d.misses == 1:
        line = f"{d.replies['retry']} {q.text}" if q is not None and q.text else d.replies["misheard"]
        d.emit(ev.Misheard(turn=turn.index, text=turn.text, confidence=turn.confidence, attempt=1))
        yield Say(line)
        return
    kind = asked_kind(d)
    if kind in ("number", "phone", "money") and q is not None:
        offered = "dtmf"
        d.emit(ev.Misheard(turn=turn.index, text=turn.text, confidence=turn.confidence, attempt=d.misses, offered=offered))
        yield Say(d.replies["misheard_keypad"] + " Then press the hash key.")
        return
    if q is not None and q.kind == "field" and d.task is not None and d.task.form is not None and d.can_link():
        offered = "link"
        d.emit(ev.Misheard(turn=turn.index, text=turn.text, confidence=turn.confidence, attempt=d.misses, offered=offered))
        async for act in d.send_link(d.task.form, q.name):
            yield act
        return
    offered = "person" if d.escalation.possible else None
    d.emit(ev.Misheard(turn=turn.index, text=turn.text, confidence=turn.confidence, attempt=d.misses, offered=offered))
    if offered:
        yield d.ask(Question("offer_person", d.replies["misheard_person"]))
    else:
        yield Say(d.replies["misheard"])

def asked_kind(d: Dialogue) -> str | None:
    q, task = d.question, d.task
    if q is None or task is None:
        return None
    if q.kind == "slot":
        return task.intent.slots.get(q.name)
    if q.kind == "field" and task.form is not None:
        return task.form.field(q.name).type
    return None

async def keypad(d: Dialogue, turn: Turn, brain: Brain) -> AsyncIterator[Act]:
    """Digits typed on the keypad: collected until '#', then read as the answer."""
    digit = turn.text.strip()
    if digit not in ("#", "*"):
        d.dtmf += digit
        return
    digits, d.dtmf = d.dtmf, ""
    if not digits:
        return
    typed = Turn(turn.index, digits, 1.0, "text", turn.caller)
    async for act in d.respond(typed, brain):
        yield act
