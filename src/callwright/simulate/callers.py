"""The caller's side of a simulated call: what to say next, given what the agent just did.

A :class:`ScriptedCaller` walks a scenario's turns in order. A turn with ``when`` waits for the
agent's reply or events to match it (a caller who says "yes" only once the order is read back);
meanwhile, a fact the agent asks about (``facts: {"delivery address": "12 Baker Street"}``) is
told, and if the agent asks nothing the caller knows, that turn is left out. After the script, facts
are still told when asked; when nothing is left to say, the caller is done. The same caller drives text mode and
voice mode, so both follow the same branches.

An :class:`LlmCaller` plays a scenario's ``goal`` instead: a language model is given the persona,
the goal and the facts (to be told only when asked) and says each line; it hangs up by saying
goodbye, or after the persona's ``patience_turns`` (12 unless it says). Models volunteer what they know, so the caller also
checks each line: a sentence that gives a fact the agent has not asked about is left out (see
:meth:`LlmCaller.next`).

Every runner asks a :class:`Caller` for its next step and awaits it: the scripted caller answers
at once (:meth:`ScriptedCaller.step`), the LLM caller after a request to its endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .. import events as ev
from ..agent.text import normalise, words
from ..engines.base import Message
from .chat import Chat
from .scenario import Persona, Scenario, Step, When

MAX_FACTS = 6  # facts told after the script, at most: an agent that keeps asking is not answered for ever
LINE_TOKENS = 48  # a caller's line is a sentence or two on the phone


class Caller(Protocol):
    async def next(self, reply: str, events: Sequence[ev.Event]) -> Step | None:
        """The next step after the agent said ``reply`` (with ``events``), or None: the caller is done."""
        ...


def holds(when: When, reply: str, events: Sequence[ev.Event]) -> bool:
    """Whether the agent's last reply and events meet ``when``."""
    heard = _plain(reply)
    if when.says_any and not any(_plain(p) in heard for p in when.says_any):
        return False
    if any(_plain(p) in heard for p in when.not_says):
        return False
    happened = {e.type for e in events}
    return all(kind in happened for kind in when.event)


@dataclass
class ScriptedCaller:
    """Decides each caller turn of one scenario (see the module docstring)."""

    scenario: Scenario
    position: int = 0
    told: set[str] = field(default_factory=set)
    facts_told: int = 0

    async def next(self, reply: str, events: Sequence[ev.Event]) -> Step | None:
        return self.step(reply, events)

    def step(self, reply: str, events: Sequence[ev.Event]) -> Step | None:
        """The next step to take after the agent said ``reply`` (with ``events``), or None: done."""
        while self.position < len(self.scenario.turns):
            step = self.scenario.turns[self.position]
            if step.when is None or holds(step.when, reply, events):
                self.position += 1
                return step
            told = self._tell(reply)  # not yet: answer what the agent asks meanwhile, then wait for it
            if told is not None:
                return told
            self.position += 1  # the agent went another way: this turn is not said
        return self._tell(reply)

    def upcoming(self, said: str, events: Sequence[ev.Event]) -> Step | None:
        """The next scripted step if it is said over the agent's talk (a backchannel or an
        interruption) and its cue, if any, is met by what the agent has ``said`` so far. It stays
        next until :meth:`take`; the voice modes say it at its moment, or leave it to :meth:`next`."""
        if self.position >= len(self.scenario.turns):
            return None
        step = self.scenario.turns[self.position]
        if step.backchannel is None and step.interrupt is None:
            return None
        return step if step.when is None or holds(step.when, said, events) else None

    def take(self, step: Step) -> None:
        """``step`` (from :meth:`upcoming`) was said over the agent: it is done."""
        if self.position < len(self.scenario.turns) and self.scenario.turns[self.position] is step:
            self.position += 1

    def _tell(self, reply: str) -> Step | None:
        fact = self._asked_fact(reply)
        if fact is None or self.facts_told >= MAX_FACTS:
            return None
        self.told.add(fact)
        self.facts_told += 1
        return Step(say=self.scenario.facts[fact])

    def _asked_fact(self, reply: str) -> str | None:
        """The fact the agent's last sentence asks about ("What's the delivery address?": the address)."""
        asked = _plain(reply.rsplit(".", 1)[-1] if "?" in reply else "")
        if not asked:
            return None
        best: tuple[int, str] | None = None
        for name in self.scenario.facts:
            shared = len(set(words(_plain(name))) & set(words(asked)) - _GENERIC)
            if shared and (best is None or shared > best[0]):
                best = (shared, name)
        return best[1] if best is not None else None


_GENERIC = {"the", "a", "your", "my", "what", "is", "of", "and", "to", "you", "for", "please"}


def _plain(text: str) -> str:
    return " ".join(words(normalise(text)))


@dataclass
class LlmCaller:
    """Plays one scenario's ``goal`` with a language model (see the module docstring).

    Each request carries the case's ``seed`` at temperature 0. ``notes`` says what the caller did
    that the transcript does not show: lines it cut, facts it gave unasked, why it hung up.
    """

    scenario: Scenario
    chat: Chat
    seed: int
    history: list[Message] = field(default_factory=list)  # the agent as "user", the caller as "assistant"
    asked: set[str] = field(default_factory=set)  # the facts the agent has asked about
    notes: list[str] = field(default_factory=list)
    said: int = 0
    done: bool = False

    async def next(self, reply: str, events: Sequence[ev.Event]) -> Step | None:
        """The caller's next line, from the model. A sentence that gives a fact the agent has not
        asked about is left out; when nothing is left, the model is asked once more, told to wait
        for the question, and if it still gives the fact the line is said as it is (and noted).
        A line that ends in goodbye hangs up after it is said."""
        if self.done or any(isinstance(e, ev.CallEnded) for e in events):
            return None
        self.asked |= asked_facts(self.facts, reply)
        self.history.append(Message(role="user", content=reply or "(the assistant says nothing)"))
        budget = (self.scenario.persona or Persona()).patience_turns
        if self.said >= budget:
            self.done = True
            self.notes.append(f"hung up after turn {budget} without saying goodbye (persona.patience_turns)")
            return Step(hangup=True)
        line = await self._line()
        if not line:
            self.done = True
            self.notes.append(f"hung up: the model gave no line at turn {self.said + 1}")
            return Step(hangup=True)
        self.said += 1
        self.history.append(Message(role="assistant", content=line))
        self.done = says_goodbye(line)
        return Step(say=line, hangup=self.done)

    @property
    def facts(self) -> dict[str, str]:
        """The scenario's facts, and the persona's phone number as one when no fact gives it."""
        phone = self.scenario.persona.phone if self.scenario.persona is not None else None
        if phone and not any("phone" in name for name in self.scenario.facts):
            return {**self.scenario.facts, "phone number": phone}
        return dict(self.scenario.facts)

    async def _line(self) -> str:
        unasked = {name: value for name, value in self.facts.items() if name not in self.asked}
        line = ""
        for attempt in range(2):
            nudge = []
            if attempt:
                nudge = [Message(role="system", content=(
                    "Say your next line to the assistant again, in a few words. Do not give your "
                    f"{' or '.join(volunteered_facts(unasked, line)) or 'details'} until the assistant asks for it."
                ) if line else "Say your next line to the assistant, in a few words.")]
            answer = await self.chat.answer(
                [Message(role="system", content=caller_prompt(self.scenario, self.facts)), *self.history, *nudge],
                seed=self.seed, max_tokens=LINE_TOKENS,
            )
            line = spoken_line(answer)
            kept = [s for s in sentences(line) if not volunteered_facts(unasked, s)]
            if kept:
                if len(kept) < len(sentences(line)):
                    self.notes.append(f"turn {self.said + 1}: left out what gave {', '.join(volunteered_facts(unasked, line))} unasked")
                return " ".join(kept)
        if line:
            told = volunteered_facts(unasked, line)
            self.asked |= set(told)  # said now: no use holding it back later
            self.notes.append(f"turn {self.said + 1}: told {', '.join(told)} before being asked")
        return line


def caller_prompt(scenario: Scenario, facts: dict[str, str]) -> str:
    """The system prompt of a goal-driven caller: who they are, what they want, what they know."""
    persona = scenario.persona or Persona()
    lines = [
        f"You are {persona.name or 'a customer'}, phoning a business. A voice assistant answers. You are the caller, "
        "not the assistant: you never offer help and never speak for the business.",
        f"What you want: {scenario.goal}",
        f"You feel {persona.emotion}." if persona.emotion != "neutral" else "",
        f"Speak only the language with code {persona.language!r}." if persona.language != "en" else "",
    ]
    if facts:
        lines.append("What you know. Give each only when the assistant asks for it, never before:")
        lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines.append(
        "Answer with only the words you say next, one or two short sentences as said on the phone: no name before "
        "them, no quotes, no actions in brackets. When you have what you wanted, or it cannot be done, say goodbye."
    )
    return "\n".join(line for line in lines if line)


def asked_facts(facts: dict[str, str], reply: str) -> set[str]:
    """The facts ``reply`` asks about, or mentions: a word of the fact's name, other than "the" or "your"."""
    heard = set(words(_plain(reply)))
    return {name for name in facts if set(words(_plain(name))) - _GENERIC & heard}


def volunteered_facts(facts: dict[str, str], line: str) -> list[str]:
    """The facts whose value ``line`` gives: all of it, or one of its comma-separated parts."""
    said = f" {_plain(line)} "
    return [name for name, value in facts.items()
            if any(f" {part} " in said for part in {_plain(value), *(_plain(p) for p in value.split(","))} if part)]


def spoken_line(answer: str) -> str:
    """What a caller would say, from a model's answer: its first line, without a speaker's name,
    quotes or bracketed actions, at most three sentences, and without a last one left unfinished
    (cut by the token limit) after a finished one; "" when no words are left."""
    line = next((text.strip() for text in answer.splitlines() if re.search(r"\w", _SPOKEN.sub("", text))), "")
    line = _SPEAKER.sub("", line)
    line = " ".join(_SPOKEN.sub(" ", line).split()).strip(" \"'")
    said = sentences(line)
    if len(said) > 1 and not said[-1].endswith((".", "!", "?")):
        said.pop()
    return " ".join(said[:3]) if re.search(r"\w", line) else ""


def sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(line) if s.strip()]


def says_goodbye(line: str) -> bool:
    return bool(_GOODBYE.search(_plain(line)))


_SPEAKER = re.compile(r"^\W*(?:[Cc]aller|[Cc]ustomer|[Uu]ser|[A-Z][a-z]+)\W*?:\s*")  # "Caller: ...", "**Sam:** ..."
_SPOKEN = re.compile(r"\([^)]*\)|\[[^\]]*\]|\*[^*]*\*")  # "(sighs)", "[pause]", "*hangs up*"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_GOODBYE = re.compile(r"\b(?:good ?bye|bye(?: bye)?)\b\W*$")
