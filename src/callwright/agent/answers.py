"""Reading a caller's turn as the answer to what the agent asked: one handler per question.

:func:`answer` dispatches on the open :class:`~callwright.agent.dialogue.Question`: a slot or
form field, a read-back of a value, the confirmation of an action, "what would you like to
change?", forgetting, the open issue recalled at the greeting, an offer of a person, "anything
else?". Each handler reads the turn in that context ("yeah" confirms a read-back; "ok thanks" does
not accept an offer), takes corrections, answers side questions through the brain and comes back
to the question, and only otherwise asks again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from .. import events as ev
from .base import Act, Hangup, Say, Turn
from .dates import say_date, say_day, say_time, turns_down, without_turned_down
from .reading import is_correction, replaced_part
from .state import Question
from .text import normalise
from .values import Parsed, datetime_text, parse_value, read_datetime

if TYPE_CHECKING:
    from .dialogue import Dialogue
    from .escalation import Mode
    from .state import Brain, Reading, Task


async def answer(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    yes = reading.yes
    if q.kind in ("slot", "field"):
        async for act in answer_value(d, q, turn, reading, brain):
            yield act
    elif q.kind == "read_back":
        async for act in answer_read_back(d, q, turn, reading, brain):
            yield act
    elif q.kind == "saved":
        async for act in answer_saved(d, q, turn, reading, brain):
            yield act
    elif q.kind == "confirm":
        async for act in answer_confirm(d, q, turn, reading, brain):
            yield act
    elif q.kind == "change_what":
        async for act in answer_change(d, q, turn, reading, brain):
            yield act
    elif q.kind == "forget":
        if yes.value is True and yes.clear:
            await d.memory.forget()
            yield Say(d.replies["forgotten"])
        else:
            yield Say(d.replies["not_forgotten"])
    elif q.kind == "recall":
        if yes.value is True:
            ref = await d.memory.close_issue()
            intent = next((i for i in d.spec.intents if i.name == ref.get("intent")), None)
            if intent is not None:
                async for act in d.start(intent, turn, reading, slots=ref.get("slots", {})):
                    yield act
                return
            yield Say(d.replies["recall_no"])
        elif yes.value is False and not reading.question and len(reading.text.split()) <= 4:
            yield Say(d.replies["recall_no"])
        else:
            async for act in d.new_request(turn, reading, brain):
                yield act
    elif q.kind in ("offer_person", "confirm_person"):
        more = reading.question or (reading.best is not None and len(reading.text.split()) > 4)
        if q.value == "booking" and yes.value is not False and not reading.question and _gives_time(d, reading.text):
            # "tomorrow at two in the afternoon" to "I can book a call with a nurse": yes, at that time
            async for act in d.escalate(turn, "the caller accepted a person", mode="booking", reading=reading):
                yield act
        elif more and not (yes.clear and yes.value is True and len(reading.text.split()) <= 4):
            # "fine, do you have avocados?": a new request, not an answer to the offer
            async for act in d.new_request(turn, reading, brain):
                yield act
        elif yes.value is True and (yes.clear or q.kind == "confirm_person"):
            mode = q.value if q.value in ("transfer", "booking") else None  # the way the offer said
            async for act in d.escalate(turn, "the caller accepted a person", mode=cast("Mode | None", mode)):
                yield act
        elif yes.value is True:  # a bare "ok": ask once more, plainly
            yield d.ask(Question("confirm_person", d.spec.escalation.confirm or d.replies["confirm_person"], value=q.value))
        elif yes.ack or yes.value is False:
            yield d.ask(Question("anything_else", d.replies["anything_else"]))
        else:
            async for act in d.new_request(turn, reading, brain):
                yield act
    elif q.kind == "anything_else":
        if yes.value is False or (yes.ack and yes.value is None):
            yield Say(d.replies["goodbye"])
            yield Hangup("goodbye")
        elif yes.value is True and len(reading.text.split()) <= 3:
            yield d.ask(Question("anything_else", d.replies["what_else"]))
        else:
            async for act in d.new_request(turn, reading, brain):
                yield act

async def answer_value(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    task = d.task
    if task is None:
        async for act in d.new_request(turn, reading, brain):
            yield act
        return
    if _cancels(reading.text) and not reading.question:
        async for act in d.cancel():
            yield act
        return
    kind = d.kind(task, q.name)
    if kind == "datetime" and q.value:  # the day was given before; this answers "what time?"
        when = _part_of_datetime(without_turned_down(reading.text), q.value, d.now(), d.spec.identity.region)
        if when is not None:
            d.apply_found(task, turn, {q.name: when})
            async for act in d.advance(turn):
                yield act
            return
    found = d.find(task, reading, missing_only=True, whole=q.name)
    if kind == "datetime" and turns_down(reading.text):  # "eleven, nine's too early": what they want, not what they turn down
        wanted = parse_value("datetime", without_turned_down(reading.text), now=d.now(), region=d.spec.identity.region)
        found = found | ({q.name: wanted} if wanted is not None else {})
    mine = found.get(q.name)
    # A question is a side request unless it plainly holds the value: "how much is delivery by the
    # way" is not an address on "Way", while "is it 12 Baker Street?" is one. Any words can be a
    # free-text answer, so there a question is a side request when it is a request the agent knows.
    if kind == "text":
        side = reading.question and reading.strong_intent is not None
    else:
        side = reading.question and (mine is None or mine.certainty < 1.0)
    if mine is not None and acceptable(d, task, q.name, mine) and not side:
        d.apply_found(task, turn, found)
        async for act in d.advance(turn):
            yield act
        return
    if is_side_request(d, reading, task):
        async for act in side_request(d, q, turn, reading, brain):
            yield act
        return
    if kind == "datetime" and not q.value:
        day = _day_only(reading.resolved, d.now(), d.spec.identity.region)
        if day is not None:  # "Monday morning": the day is kept, its time asked
            provisional, question = day
            yield d.ask(Question("field", question, q.name, value=provisional))
            return
    other = {k: v for k, v in found.items() if k != q.name}
    if other:  # they gave something else we need ("two please" when asked the address)
        d.apply_found(task, turn, other)
    async for act in retry(d, task, q, turn):
        yield act

def acceptable(d: Dialogue, task: Task, name: str, parsed: Parsed) -> bool:
    kind = d.kind(task, name)
    if kind == "text":
        return bool(parsed.text.strip())
    return parsed.certainty >= 0.5


def is_side_request(d: Dialogue, reading: Reading, task: Task) -> bool:
    best = reading.best
    if best is not None and best.intent != task.intent.name and (reading.question or best.score >= reading.strong):
        return True
    return reading.question

async def side_request(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    """Answer something else mid-task; the task and its question are resumed once that is done."""
    if d.task is not None:
        d.suspended.append((d.task, q))
        d.task = None
    async for act in d.new_request(turn, reading, brain):
        yield act

async def retry(d: Dialogue, task: Task, q: Question, turn: Turn) -> AsyncIterator[Act]:
    if q.kind == "slot":
        yield d.ask(Question("slot", f"{d.replies['retry']} {q.text}", q.name))
        d.question = Question("slot", q.text, q.name)
        return
    assert task.form is not None
    tries = task.form.failed(q.name)
    d.emit(ev.FormField(form=task.form.name, field=q.name, status="rejected", tries=tries))
    async for act in d.ask_field(task.form, q.name, retry=True):
        yield act

async def answer_read_back(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    task = d.task
    if task is None or task.form is None:
        return
    yes = reading.yes
    if reading.question and not reading.correction and not _answers_first(reading.text):
        async for act in side_request(d, q, turn, reading, brain):
            yield act
        return
    correction = d.find(task, reading, missing_only=False, whole=q.name if not reading.question else None).get(q.name)
    part = replaced_part(reading.text, {q.name: q.value}) if q.value else None
    if part is not None:  # "oh gosh, Magnolia Lane, not Magnolia Street": the part turned down, replaced in what was heard
        correction = parse_value(d.kind(task, q.name), part[1], now=d.now(), region=d.spec.identity.region) or correction
    if q.value and d.kind(task, q.name) == "datetime":
        # "can we make it friday instead, same time, thursday's no good", "make it eleven, nine is a bit
        # early": the day or the time it changes (the other is kept), read from what the caller wants,
        # not from what they turn down
        correction = _part_of_datetime(without_turned_down(reading.text), q.value, d.now(), d.spec.identity.region) or correction
    if correction is not None and correction.text == q.value:
        correction = None
    if yes.value is True and correction is None:
        task.form.values[q.name] = q.value or ""
        task.pending.pop(q.name, None)
        d.emit(ev.FormField(form=task.form.name, field=q.name, status="confirmed", value=q.value))
        # "yes that's right, it's about my pads": what else the yes carries fills what is still missing
        more = {k: v for k, v in d.find(task, reading, missing_only=True, whole=None).items() if k != q.name}
        d.apply_found(task, turn, more)
        async for act in d.advance(turn):
            yield act
        return
    if correction is not None and acceptable(d, task, q.name, correction):
        # "No, it's twenty Oak Street": the correction is read back, while tries remain. Each counts
        # as a try, because an address parses from almost any words and would loop for ever.
        tries = task.form.failed(q.name)
        d.emit(ev.FormField(form=task.form.name, field=q.name, status="rejected", value=q.value, tries=tries))
        task.pending.pop(q.name, None)
        if tries >= task.form.field(q.name).max_tries:
            async for act in d.send_link(task.form, q.name):
                yield act
            return
        task.pending[q.name] = correction
        async for act in d.advance(turn):
            yield act
        return
    if yes.value is False or _UNSURE.search(reading.text.lower()):  # "I'm not sure" does not confirm it
        task.pending.pop(q.name, None)
        tries = task.form.failed(q.name)
        d.emit(ev.FormField(form=task.form.name, field=q.name, status="rejected", value=q.value, tries=tries))
        async for act in d.ask_field(task.form, q.name):
            yield act
        return
    if is_side_request(d, reading, task):
        async for act in side_request(d, q, turn, reading, brain):
            yield act
        return
    yield Say(d.replies["retry"] + " ")
    yield d.ask(q)

async def answer_saved(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    """The answer to "Same address as last time, ...?": a yes keeps it, a new value is read back as
    any other, and a plain no asks for the field (not a failed try: the caller just moved)."""
    task = d.task
    if task is None or task.form is None:
        return
    if reading.yes.value is False and not reading.question and d.find(task, reading, missing_only=False, whole=None).get(q.name) is None:
        task.pending.pop(q.name, None)
        async for act in d.ask_field(task.form, q.name):
            yield act
        return
    async for act in answer_read_back(d, q, turn, reading, brain):
        yield act


async def answer_confirm(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    task = d.task
    if task is None:
        return
    yes = reading.yes
    if reading.question and not _answers_first(reading.text):
        # "Before I say yes, do you take Apple Pay?": a question first; nothing is done before the answer
        async for act in side_request(d, q, turn, reading, brain):
            yield act
        return
    changed = d.apply_correction(task, turn, reading) if not (yes.value is True and not reading.correction) else {}
    if changed:
        async for act in d.after_correction(turn, changed):
            yield act
        return
    if yes.value is True:
        task.confirmed = True
        async for act in d.advance(turn):
            yield act
        return
    if yes.value is False:
        if _cancels(reading.text):
            async for act in d.cancel():
                yield act
            return
        yield d.ask(Question("change_what", d.replies["change_what"]))
        return
    if is_side_request(d, reading, task):
        async for act in side_request(d, q, turn, reading, brain):
            yield act
        return
    yield Say(d.replies["retry"] + " ")
    yield d.ask(q)

async def answer_change(d: Dialogue, q: Question, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
    task = d.task
    if task is None:
        return
    changed = d.apply_correction(task, turn, reading)
    if changed:
        async for act in d.after_correction(turn, changed):
            yield act
        return
    named = named_field(d, task, reading.text)
    if named is not None:
        clear(d, task, named)
        async for act in d.advance(turn):
            yield act
        return
    if _cancels(reading.text) or reading.yes.value is False:
        async for act in d.cancel():
            yield act
        return
    if reading.yes.value is not None or reading.yes.ack:  # "yes" to "change it or cancel?" says neither
        yield Say(d.replies["retry"] + " ")
        yield d.ask(q)
        return
    async for act in side_request(d, q, turn, reading, brain):
        yield act

def named_field(d: Dialogue, task: Task, text: str) -> str | None:
    said = text.lower()
    for name in d.wanted(task, missing_only=False):
        label = name.replace("_", " ")
        field_label = task.form.field(name).label if task.form is not None and name in {f.name for f in task.form.spec.fields} else None
        if label in said or (field_label and field_label.lower() in said) or (name == "quantity" and ("how many" in said or "amount" in said)):
            return name
    return None

def clear(d: Dialogue, task: Task, name: str) -> None:
    task.slots.pop(name, None)
    task.pending.pop(name, None)
    if task.form is not None:
        task.form.values.pop(name, None)
    task.confirmed = False


def _cancels(text: str) -> bool:
    s = text.lower()
    return any(w in s for w in ("cancel", "never mind", "nevermind", "forget it", "forget about it", "don't bother", "scrap", "not anymore", "changed my mind", "leave it"))

_FIRST_WORD_ANSWERS = re.compile(r"^\W*(?:yes|yeah|yep|yup|no|nope|nah|correct|right|sure|ok|okay)\b")


def _answers_first(text: str) -> bool:
    """The turn starts by answering ("yes, and is delivery free?"), or holds no question of its own."""
    return bool(_FIRST_WORD_ANSWERS.match(normalise(text, digits=False)))


def _gives_time(d: Dialogue, text: str) -> bool:
    """The turn says when: "tomorrow at two in the afternoon", "half ten"."""
    return parse_value("datetime", text, now=d.now(), region=d.spec.identity.region) is not None


_UNSURE = re.compile(r"\b(?:not sure|don't know|do not know|no idea|not certain|i think so maybe)\b")


def _day_only(text: str, now: Any, region: str) -> tuple[str, str] | None:
    """A day without a time ("Monday morning"): a provisional date and time (the part of the day's
    usual hour), and the question for the time ("What time on Monday, December 7th?")."""
    day = parse_value("date", text, now=now, region=region)
    if day is None:
        return None
    said = text.lower()
    hour = 10 if "morning" in said else 14 if "afternoon" in said else 18 if ("evening" in said or "night" in said) else 12
    provisional = dt.datetime.combine(day.value, dt.time(hour), tzinfo=now.tzinfo)
    return datetime_text(provisional), f"What time on {say_date(day.value)}?"


# An hour said alone ("make it eleven"), not a count ("one more thing", "two questions")
_BARE_HOUR = re.compile(
    r"\b(1[0-2]|[1-9])(?:[:.]([0-5]\d))?\b(?=\s*(?:$|[,.;!?]|(?:please|instead|then|for|if|is|would|will|works|suits|"
    r"o'?clock|oclock|am|pm|ish|sharp|and|or|in|on|at|today|tomorrow|tonight|that|thanks|ok|okay|yeah|i|we)\b))"
)


def _part_of_datetime(text: str, previous: str, now: Any, region: str) -> Parsed | None:
    """"No, I said eleven" to "Saturday at ten": the new time on the day heard before (or the new day at its time)."""
    before = read_datetime(previous)
    if before is None:
        return None
    clock = parse_value("time", text, now=now, region=region)
    day = parse_value("date", text, now=now, region=region)
    if clock is None and day is None:
        bare = _BARE_HOUR.search(normalise(text))
        if bare is None or (len(text.split()) > 6 and not is_correction(text)):
            return None  # in a long turn a bare "one" is a pronoun ("if there's one there"), not an hour
        hour = int(bare.group(1))  # "eleven": the hour nearest the one heard before (10 a.m. -> 11 a.m.)
        hour = min((hour, hour + 12), key=lambda h: abs(h - before.hour)) % 24
        clock = Parsed(dt.time(hour, int(bare.group(2) or 0)), "", "", 0.8)
    date = day.value if day is not None else before.date()
    time = clock.value if clock is not None else before.time()
    when = dt.datetime.combine(date, time, tzinfo=now.tzinfo)
    spoken = f"{say_day(date, now.date())} at {say_time(time)}"
    certainty = min(p.certainty for p in (clock, day) if p is not None)
    return Parsed(when, datetime_text(when), spoken, certainty)
