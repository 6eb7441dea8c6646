"""The agent's built-in lines and the ``{placeholder}`` templates its replies are written in.

Every line here can be overridden per agent (``replies:`` in agent.yaml). :data:`PLACEHOLDERS` says
which placeholders each line may use; ``callwright check`` reports any other placeholder, so a typo
such as ``{adress}`` is found when the agent loads, not when a caller hears an empty gap.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("callwright.agent")

REPLIES = {
    "filler": "One moment please.",
    "background": "This takes a few minutes. I'll text you when it's done, so feel free to hang up.",
    "background_no_phone": "This takes a few minutes. I'll have it ready if you call back.",
    "retry": "Sorry, I didn't catch that.",
    "misheard": "Sorry, I didn't catch that. Could you say it again?",
    "misheard_keypad": "Sorry, I still didn't catch that. You can also type it on your phone's keypad.",
    "misheard_link": "Sorry, I still didn't catch that. I can text you a link to type it instead.",
    "misheard_person": "Sorry, I'm still having trouble hearing you. I can put you through to a person if you like.",
    "confirm_value": "I heard {value}. Is that right?",
    "link_sent": "I've just texted you a link where you can type your {label}. I'll wait right here.",
    "link_no_phone": "Sorry, I can't take your {label} by voice right now, and I have no number to text a form to.",
    "link_filled": "Thanks, I have your {label} now.",
    "cancelled": "Okay, I've cancelled that. Is there anything else?",
    "change_what": "No problem. What would you like to change? Or shall I cancel it?",
    "take_your_time": "Take your time.",
    "still_here": "Yes, I'm here.",  # "are you still there?"; followed by the question still open
    "back_to": "Now, {question}",
    "tool_error": "Sorry, I couldn't do that just now. Please try again in a moment.",
    "tool_timeout": "Sorry, that's taking much longer than it should. Let's try again in a little while.",
    "late_result": "By the way, that's done now.",
    "dont_know": "I'm sorry, I don't know the answer to that.",
    "cant_do": "I'm sorry, I can't help with that here.",
    "which_one": "Sorry, which one do you mean?",
    "forget_confirm": "Do you want me to delete everything I remember about you? Please say yes or no.",
    "forgotten": "Done. I've deleted everything I had about you.",
    "not_forgotten": "Okay, I'll keep your details.",
    "welcome_back": "Welcome back, {name}.",
    "recall": "Are you calling about {topic} from {day}?",
    "recall_no": "No problem. How can I help?",
    "saved_value": "Same {label} as last time, {value}?",
    "anything_else": "Is there anything else I can help with?",
    "what_else": "Sure, what else can I help with?",
    "goodbye": "Thanks for calling. Goodbye!",
    "no_escalation": "I'm sorry, I can't connect you to a person on this line.",
    "confirm_person": "Just to check: shall I put you through to a person now?",
    "not_repeating": "Sorry, I haven't said anything yet. How can I help?",
    "small_talk": "I'm well, thanks for asking. How can I help?",
    "small_talk_pending": "I'm well, thanks for asking.",  # followed by the question still open
    "capabilities": "I can help with {does}. What would you like to do?",
}

# Which placeholders each built-in line may use (the rest take none).
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "confirm_value": frozenset({"value"}),
    "link_sent": frozenset({"label"}),
    "link_no_phone": frozenset({"label"}),
    "link_filled": frozenset({"label"}),
    "welcome_back": frozenset({"name"}),
    "recall": frozenset({"topic", "day"}),
    "saved_value": frozenset({"label", "value"}),
    "back_to": frozenset({"question"}),
    "goodbye": frozenset({"name"}),
    "capabilities": frozenset({"does"}),
}
CALLER_VALUES = frozenset({"name", "phone"})  # filled in every intent template

_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}")


def placeholders(template: str) -> list[str]:
    """The placeholders of a template, in order (``{result.eta}`` gives ``result.eta``)."""
    return _PLACEHOLDER.findall(template)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``{name}`` and ``{result.key}`` placeholders; an unknown one becomes empty (and is logged).

    ``callwright check`` catches unknown placeholders when the agent loads; this only guards a value
    that is missing at run time (a tool result without the key a reply names).
    """

    def value(match: re.Match[str]) -> str:
        current: Any = values
        for part in match.group(1).split("."):
            current = current.get(part) if isinstance(current, Mapping) else getattr(current, part, None)
            if current is None:
                log.warning("template placeholder {%s} has no value", match.group(1))
                return ""
        return str(current)

    return _PLACEHOLDER.sub(value, template)
