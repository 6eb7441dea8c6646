"""The embedded brain: new requests understood without a language model.

A turn that answers nothing the agent asked is a new request. The embedded brain ranks it
against the agent's intents (MiniLM example phrases plus shared content words, see
:mod:`.intents`) and then weighs the evidence of the words themselves: an intent whose slots or
form fields the turn fills ("two oat milks to 12 Baker Street" holds a quantity and an address:
an order) gains :data:`EVIDENCE` per value found. A strong match starts that intent; a weak one
gives way to the documents when they answer the turn; otherwise the documents are asked, and
when they do not know, the agent says so and offers a person. "And what about 1234?" after an
order lookup repeats the last request with the new value. Scope is checked by the dialogue
before any brain is asked.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .base import Act, Turn
from .intents import OUT_OF_SCOPE, Match
from .mishearing import AHEAD, clearly_answered
from .reading import (
    REQUEST_VERB,
    asking_clause,
    asks_agent_to_act,
    asks_for,
    asks_property,
    find_values,
    is_question,
    not_a_request,
    question_part,
    questions,
    strip_fillers,
    thing_named,
)
from .text import normalise, words
from .values import FieldKind

if TYPE_CHECKING:
    from .app import AgentApp
    from .dialogue import Dialogue
    from .knowledge import Answer
    from .spec import FormSpec, IntentSpec
    from .state import Reading

# Score added per typed value (not free text) the turn gives for an intent: an address, a phone
# number or a date says more about what the caller wants than a bare number does.
EVIDENCE: dict[str, float] = {"address": 0.2, "phone": 0.2, "email": 0.2, "datetime": 0.2, "date": 0.15, "time": 0.15}
EVIDENCE_OTHER = 0.1
MAX_EVIDENCE = 0.3
# Added when a turn gives two or more of an intent's values, whatever its phrasing scored: values
# that belong together are better evidence than each alone.
TOGETHER = 0.1
# How much more than "confident" the documents must score to take a turn from a weakly matched
# request that names a thing they are not about.
THING_MARGIN = 0.08
# ... and by how much they must clear it to take a turn from a request matched above the threshold
# at all: a passage that only just counts as an answer ("the thing I ordered still hasn't turned up"
# finds the tracking section) does not beat a request that fits.
DOCS_MARGIN = 0.04
_ELLIPSIS = re.compile(
    r"^(?:(?:and|so|ok|okay|right|then|also)[\s,]+)*(?:what|how) about\b|^(?:and|also)\b"
    # "oh sorry, that was the wrong receipt, it's 4567": the last request again, with the right value
    r"|\b(?:wrong (?:one|number|receipt|order|email|code)|my mistake|my bad|i meant|sorry,? (?:it's|its|it is)|try)\b"
)


class EmbeddedBrain:
    def __init__(self, app: AgentApp) -> None:
        self.app = app

    async def respond(self, turn: Turn, reading: Reading, dialogue: Dialogue) -> AsyncIterator[Act]:
        keyed = self._identified(reading)
        if keyed is not None:  # "oh right, it's 1234": only one request is about a number like that
            async for act in dialogue.start(keyed, turn, reading):
                yield act
            return
        asked = questions(reading.resolved)
        if len(asked) > 1:
            # "where's order 4567 and do you deliver on a sunday": the request is carried out, and the
            # question beside it answered from the documents first (it is done in one breath)
            readings = [await dialogue.read(replace(turn, text=q)) for q in asked]
            wanted = [r for r in readings if (b := self._first(r)) is not None and self._acts_on(b.intent)]
            if len(wanted) == 1:
                told = [r for r in readings if r is not wanted[0]]
                answers = [await self.app.knowledge.asearch(question_part(r.resolved)) for r in told] if self.app.knowledge else []
                if answers and all(a.confident for a in answers):
                    for answer in answers:
                        async for act in dialogue.answer_found(turn, replace(answer, confident=True)):
                            yield act
                    reading = wanted[0]
        ranked = self._weigh(reading, dialogue)
        if not_a_request(reading.resolved):  # "do your loaves have nuts?", "my eggs came broken": no order
            ranked = [m for m in ranked if not self._acts(m.intent)]
        raw = {m.intent: m.score for m in reading.intents}
        best = ranked[0] if ranked and ranked[0].score >= reading.threshold else None
        if best is not None and best.intent == OUT_OF_SCOPE:
            async for act in dialogue.out_of_scope(turn):
                yield act
            return
        again = self._ellipsis(reading, dialogue)
        if again is not None and (best is None or best.score < reading.strong):
            async for act in dialogue.start(again, turn, reading):
                yield act
            return
        knowledge = self.app.knowledge
        question = question_part(reading.resolved)
        found: dict[str, Answer] = {}

        async def search(query: str) -> Answer:  # each query is searched once per turn, however many checks ask
            assert knowledge is not None
            if query not in found:
                found[query] = await knowledge.asearch(query)
            return found[query]

        named = self._named(best.intent, reading, dialogue) if best is not None and knowledge is not None else []
        if knowledge is not None and any(knowledge.is_topic(thing) for thing in named):
            best = None  # "how much is delivery?": a thing the documents are about, not a product
        if best is not None and knowledge is not None and asks_property(reading.resolved) and self._looks_up(best.intent):
            # "is your gluten free bread safe for a coeliac?" asks what the documents say of it, not
            # whether a store has some
            if (await search(question)).confident:
                best = None
        if best is not None and best.score < reading.strong and knowledge is not None:
            # A weak intent match may be a question the documents answer ("is there a minimum order?");
            # when the turn names a thing the documents are not about ("got any gluten free bread?"),
            # the documents must answer clearly better than just enough.
            # The same when the turn gives the intent a value ("her shopping hasn't come, the number is
            # 4567"): documents cannot use the number; the request can.
            answer = await search(question)
            bar = knowledge.min_score + (THING_MARGIN if named or best.score > raw.get(best.intent, best.score) else DOCS_MARGIN)
            # "I want to check on a delivery" asks for something to be done: only a passage that clearly
            # answers it (well above the bar, or well ahead of the next) takes the turn from the request
            asked_for = not reading.question and asks_for(reading.resolved)
            clear = not asked_for or clearly_answered([h.score for h in answer.hits], bar)
            if answer.hits and answer.hits[0].score >= bar and clear and await self._documents_answer_the_request(reading, bar):
                best = None
        if best is None:
            if knowledge is not None and asks_agent_to_act(reading.resolved):
                # "can you move my surgeon's appointment?": nothing here does that; a passage that only
                # shares its words ("next month", "away") must not be read out as if it answered
                answer = await search(question)
                scores = [h.score for h in answer.hits]
                ahead = len(scores) > 1 and scores[0] - scores[1] >= AHEAD
                if answer.hits and knowledge.names_rarely(answer.hits[0].passage, question) and (answer.confident or ahead):
                    # "can you send me a sick note?": the one passage about a note for an employer says who can
                    async for act in dialogue.answer_found(turn, replace(answer, confident=True)):
                        yield act
                    return
                if not clearly_answered(scores, knowledge.min_score):
                    async for act in dialogue.dont_know(turn, "cant_do"):
                        yield act
                    return
            async for act in dialogue.answer_from_documents(turn, question):
                yield act
            return
        intent = next(i for i in self.app.spec.intents if i.name == best.intent)
        async for act in dialogue.start(intent, turn, reading, score=best.score):
            yield act

    async def _documents_answer_the_request(self, reading: Reading, bar: float) -> bool:
        """In a turn of several clauses, the documents must answer the one that asks, not only what it
        tells around it: "can a nurse call my husband back, he's got questions about his pads" asks
        for a call; the pads are what it is about."""
        asking = asking_clause(reading.resolved)
        if asking is None or self.app.knowledge is None:
            return True
        answer = await self.app.knowledge.asearch(question_part(asking))
        return bool(answer.hits) and answer.hits[0].score >= bar + THING_MARGIN

    def _weigh(self, reading: Reading, dialogue: Dialogue) -> list[Match]:
        """The ranking, with each intent's score raised by the values the turn gives for it."""
        weighed = []
        for match in reading.intents[:4]:
            intent = self._intent(match.intent)
            gain = 0.0
            wanted = _typed_values(intent, self.app.spec.forms, self.app.spec.escalation.booking_form) if intent is not None else {}
            if wanted:
                found = find_values(reading.resolved, wanted, now=dialogue.now(), region=self.app.spec.identity.region)
                if len(found) >= 2:  # "three salmon to 15 Harbor Street": a count and an address say "an order" however terse
                    gain = min(MAX_EVIDENCE, sum(_evidence(name, wanted[name]) for name in found)) + TOGETHER
                elif match.score >= reading.threshold - 0.15:
                    gain = min(MAX_EVIDENCE, sum(_evidence(name, wanted[name]) for name in found))
            weighed.append(replace(match, score=round(match.score + gain, 3)))
        return sorted(weighed, key=lambda m: -m.score)

    def _ellipsis(self, reading: Reading, dialogue: Dialogue) -> IntentSpec | None:
        """"And what about 1234?": the last request again, when the turn gives a new value for it.
        "And what about eggs?" after a product search: the same look-up, for the thing now named."""
        last = dialogue.last_intent
        if last is None or not _ELLIPSIS.search(reading.text.lower().strip()):
            return None
        wanted = {k: v for k, v in last.slots.items() if v != "text"}
        found = find_values(reading.resolved, wanted, now=dialogue.now(), region=self.app.spec.identity.region) if wanted else {}
        if found:
            return last
        if not self._looks_up(last.name):
            return None
        thing = _only_a_thing(reading.resolved, self.app.matcher.frame_words(last.name))
        knowledge = self.app.knowledge
        return last if thing is not None and not (knowledge is not None and knowledge.is_topic(thing)) else None

    def _named(self, name: str, reading: Reading, dialogue: Dialogue) -> list[str]:
        """The things the turn names for the intent's free-text slots ("gluten free bread")."""
        intent = self._intent(name)
        texts = {k: v for k, v in intent.slots.items() if v == "text"} if intent is not None else {}
        if not texts:
            return []
        found = find_values(reading.resolved, texts, now=dialogue.now(), frame=self.app.matcher.frame_words(name))
        return [value.text for value in found.values()]

    def _identified(self, reading: Reading) -> IntentSpec | None:
        """The one intent with an identifier slot ("order_number"), when the turn is nothing but a number."""
        said = normalise(strip_fillers(reading.resolved))
        if not re.fullmatch(r"#?\s*\d[\d ]*", said):
            return None
        keyed = [i for i in self.app.spec.intents if any(kind == "number" and _evidence(name, kind) > EVIDENCE_OTHER for name, kind in i.slots.items())]
        return keyed[0] if len(keyed) == 1 else None

    def _first(self, reading: Reading) -> Match | None:
        """The intent a turn asks for, if any: above the threshold, in scope, and not an order or a
        booking when the turn only asks about something."""
        about = not_a_request(reading.resolved)
        for match in reading.intents:
            if match.score < reading.threshold:
                return None
            if match.intent != OUT_OF_SCOPE and not (about and self._acts(match.intent)):
                return match
        return None

    def _looks_up(self, name: str) -> bool:
        """An intent that looks a thing up by name (a free-text slot) and changes nothing."""
        intent = self._intent(name)
        return intent is not None and "text" in intent.slots.values() and not self._acts(name)

    def _acts_on(self, name: str) -> bool:
        """Whether the intent is a request carried out (a tool, a form, an action), not a question for the documents."""
        intent = self._intent(name)
        return intent is not None and (intent.tool is not None or intent.form is not None or intent.action not in (None, "knowledge"))

    def _acts(self, name: str) -> bool:
        """Whether the intent does something for the caller that must be asked for: it confirms first,
        or its tool has side effects (an order, a booking)."""
        intent = self._intent(name)
        if intent is None:
            return False
        tool = self.app.definition.tools.get(intent.tool) if intent.tool else None
        return intent.confirm is not None or (tool is not None and (tool.options.side_effects or tool.options.background))

    def _intent(self, name: str) -> IntentSpec | None:
        return next((i for i in self.app.spec.intents if i.name == name), None)


_FOLLOW_UP_OPENER = re.compile(
    r"^(?:(?:and|so|ok|okay|right|then|also|oh|well|um|uh)[\s,]+)*(?:(?:what|how) about|what of|same for|and|also)\b[\s,]*"
)
_NOT_THE_THING = frozenset("the a an some any your them then please too instead as well one ones".split())


def _only_a_thing(text: str, frame: set[str]) -> str | None:
    """The thing a follow-up names when it is all the follow-up says ("and what about eggs?", "how
    about the brown bread then"); None when it asks or tells anything else ("and do you deliver?",
    "what about two to 5 Elm Road")."""
    rest = _FOLLOW_UP_OPENER.sub("", normalise(text, digits=False).strip(" ?.!"))
    if not rest or is_question(rest) or REQUEST_VERB.search(rest) or re.search(r"\d", normalise(rest)):
        return None
    found = thing_named(rest, frame)
    if found is None:
        return None
    said = [w for w in words(rest) if w not in _NOT_THE_THING]
    return found[0] if said == found[1].split() else None


def _evidence(name: str, kind: FieldKind) -> float:
    if kind == "number" and any(cue in name for cue in ("number", "id", "code", "ref")):
        return EVIDENCE["address"]  # an identifier ("order 4567") says as much as an address
    return EVIDENCE.get(kind, EVIDENCE_OTHER)


def _typed_values(intent: IntentSpec, forms: Mapping[str, FormSpec], booking_form: str | None) -> dict[str, FieldKind]:
    """The typed values a turn may give for the intent: its slots, and its form's fields (a request to
    book a person has the booking form's: "ring me tomorrow at ten" gives it a time)."""
    wanted: dict[str, FieldKind] = {k: v for k, v in intent.slots.items() if v != "text"}
    form = forms.get((booking_form if intent.action == "book_human" else intent.form) or "")
    for f in form.fields if form is not None else ():
        if f.type != "text":
            wanted[f.name] = f.type
    return wanted
