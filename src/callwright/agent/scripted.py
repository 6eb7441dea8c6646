"""A deterministic agent: keyword rules and scripted replies, no language model.

This is the embedded default, so ``make run`` holds a real conversation with no key and no
download. Rules are tried in order; the first whose keywords all appear in the caller's turn
answers. Replies stream sentence by sentence like a model's would. A rule with ``transfer_to``
hands the call to that number after its reply (a ``TransferCall``), so "I'll connect you" is kept.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from .base import Act, Agent, Context, Hangup, Say, TransferCall, Turn
from .text import normalise, words


def _words(text: str) -> list[str]:
    """The words of a turn or a rule's phrase, read as the rest of the agent layer reads them."""
    return words(normalise(text))


@dataclass(frozen=True, slots=True)
class Rule:
    """Answer ``reply`` when any of ``when`` matches (each entry: words that must all appear)."""

    when: Sequence[str]
    reply: str
    hangup: bool = False
    name: str = ""
    transfer_to: str | None = None  # hand the call to this number (E.164) after the reply

    def matches(self, said: set[str]) -> bool:
        return any(all(w in said for w in _words(phrase)) for phrase in self.when)


@dataclass
class ScriptedAgent(Agent):
    name: str
    greeting_text: str | None
    rules: Sequence[Rule]
    fallback: str = "Sorry, I can't help with that."
    word_delay_s: float = 0.0  # > 0 to imitate a model streaming words (on the call's clock)
    said: list[str] = field(default_factory=list)

    def greeting(self, context: Context) -> str | None:
        return self.greeting_text

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        said = set(_words(turn.text))
        rule = next((r for r in self.rules if r.matches(said)), None)
        reply = rule.reply if rule else self.fallback
        number = re.search(r"\b(\d[\d ]{2,})\b", turn.text)
        reply = reply.replace("{number}", "order " + number.group(1).replace(" ", "") if number else "that order")
        for piece in re.findall(r"\S+\s*", reply):
            if self.word_delay_s:
                await context.clock.sleep_until(context.clock.now() + self.word_delay_s)
            yield Say(piece)
        if rule and rule.hangup:
            yield Hangup("goodbye")
        if rule and rule.transfer_to:
            summary = f'Transferred call from {context.caller or "an unknown number"}. They said: "{turn.text.strip()}".'
            yield TransferCall(rule.transfer_to, f"the caller asked ({rule.name or 'transfer'})", summary)


PERSON = ["person", "human", "agent", "someone"]


def front_desk(transfer_to: str | None = None) -> ScriptedAgent:
    """The built-in demo agent: a shop's front desk. It tells the hours and the menu; it cannot look
    orders up (it says so), and puts a caller through to ``transfer_to`` when given one."""
    if transfer_to:
        person = Rule(PERSON, "Of course. I'll connect you to a member of our team.", name="transfer", transfer_to=transfer_to)
        offer = "or connect you to a person"
    else:
        person = Rule(PERSON, "I'm sorry, I can't put you through to a person on this line.", name="no_transfer")
        offer = "or tell you about our deli"
    return ScriptedAgent(
        name="front-desk",
        fallback=f"Sorry, I can't help with that. I can tell you our opening hours, {offer}.",
        greeting_text="Hello, thanks for calling Callwright Deli. How can I help you today?",
        rules=[
            Rule(["bye", "goodbye", "that's all", "hang up"], "Thanks for calling. Goodbye!", hangup=True, name="goodbye"),
            Rule(["open", "hours", "close"], "We open at eight in the morning and close at eight in the evening, every day.", name="hours"),
            Rule(
                ["order", "status", "delivery", "where"],
                "Sorry, I can't look up orders on this line, so I can't tell you where {number} is.",
                name="order_status",
            ),
            Rule(
                ["menu", "food", "tell me about", "what do you", "services"],
                "Happy to walk you through it. We bake fresh bread every morning, with sourdough, rye and a seeded loaf. "
                "For lunch we make sandwiches to order, and our most popular one is the smoked turkey with avocado. "
                "We also have three soups each day, and the tomato basil is a favourite with regulars. "
                "In the evening we offer family platters that feed four people, and they can be delivered. "
                "If you have allergies, every item on the menu lists what it contains, and we can make most things gluten free.",
                name="menu",
            ),
            person,
            Rule(["hello", "hi", "hey"], "Hi! How can I help you today?", name="hello"),
            Rule(["thank"], "You're welcome. Is there anything else I can do for you?", name="thanks"),
        ],
    )
