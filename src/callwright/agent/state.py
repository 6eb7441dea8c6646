"""The state of a conversation, as the dialogue manager keeps it: what the agent is doing (a
:class:`Task`), what it last asked (a :class:`Question`), how it read the caller's turn (a
:class:`Reading`), and the :class:`Brain` protocol a brain implements to take on new requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .base import Act, Turn
from .forms import FormState
from .intents import Match
from .reading import YesNo
from .spec import IntentSpec
from .values import Parsed

if TYPE_CHECKING:
    from .dialogue import Dialogue

QuestionKind = Literal[
    "slot", "field", "read_back", "saved", "confirm", "change_what", "forget", "recall", "offer_person", "confirm_person",
    "anything_else",
]


@dataclass
class Task:
    """An intent being carried out: its slots, its form, whether the caller confirmed it."""

    intent: IntentSpec
    slots: dict[str, str] = field(default_factory=dict)
    form: FormState | None = None
    confirmed: bool = False
    pending: dict[str, Parsed] = field(default_factory=dict)  # values heard but still to be read back
    hand_back: bool = False  # when done, the brain goes on (a form an LLM asked the dialogue to finish)
    escalation: str = ""  # a call booked with a person: why (the Transfer event is emitted once it is booked)
    said: dict[str, str] = field(default_factory=dict)  # slots to read back in the caller's words ("boxes of eggs")


@dataclass
class Question:
    """What the agent last asked, so the next turn is read as its answer."""

    kind: QuestionKind
    text: str = ""  # as it was said, to ask again
    name: str = ""  # the slot or field
    value: str | None = None  # a value being read back
    spoken: str | None = None


@dataclass
class Reading:
    """One caller turn as the dialogue reads it."""

    text: str
    resolved: str  # references resolved ("two of those" -> "2 oat milk")
    intents: list[Match]  # best first, above nothing: scores as ranked
    yes: YesNo
    correction: bool
    question: bool
    threshold: float
    strong: float

    @property
    def best(self) -> Match | None:
        return self.intents[0] if self.intents and self.intents[0].score >= self.threshold else None

    @property
    def strong_intent(self) -> Match | None:
        best = self.best
        return best if best is not None and best.score >= self.strong else None


class Brain(Protocol):
    """Understanding and wording of a new request: the part of an agent that can be swapped.

    Everything around it is code (:class:`~callwright.agent.spec_agent.SpecAgent`): safety runs
    before it, the dialogue answers what it asked, and it acts only through the dialogue's
    operations, so a brain cannot skip a confirmation, a scope rule or an escalation.
    """

    def respond(self, turn: Turn, reading: Reading, dialogue: Dialogue) -> AsyncIterator[Act]: ...
