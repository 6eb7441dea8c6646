"""The caller's side of a simulated call: what to say next, given what the agent just did.

A :class:`ScriptedCaller` walks a scenario's turns in order. A turn with ``when`` waits for the
agent's reply or events to match it (a caller who says "yes" only once the order is read back);
meanwhile, a fact the agent asks about (``facts: {"delivery address": "12 Baker Street"}``) is
told, and if the agent asks nothing the caller knows, that turn is left out. After the script, facts
are still told when asked; when nothing is left to say, the caller is done. The same caller drives text mode and
voice mode, so both follow the same branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import events as ev
from ..agent.text import normalise, words
from .scenario import Scenario, Step, When

MAX_FACTS = 6  # facts told after the script, at most: an agent that keeps asking is not answered for ever


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

    def next(self, reply: str, events: Sequence[ev.Event]) -> Step | None:
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
