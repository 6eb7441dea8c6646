"""Handing a call to a person: a transfer now, or a call booked with a person.

:class:`Escalation` is the agent's policy (from ``escalation:`` in agent.yaml): whether a person can
take over at all, which way (``transfer`` when a number is configured, else ``booking``), the
lines to say, and the booking as an intent the dialogue carries out (its form, its tool, its SMS).
It says nothing by itself; :meth:`Dialogue.escalate` speaks and acts.

:func:`handover_summary` is the whisper of a warm transfer: what the person who answers hears
before the caller is put through (who is calling, what they asked, what was done).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from .spec import EscalationSpec, IntentSpec

Mode = Literal["transfer", "booking"]


@dataclass(frozen=True)
class Escalation:
    spec: EscalationSpec

    @property
    def possible(self) -> bool:
        return bool(self.spec.transfer_to or self.spec.booking_tool)

    def mode(self, wanted: Mode | None = None) -> Mode | None:
        """The way a person takes over: ``wanted`` when it is configured, else whatever is."""
        has = {"transfer": bool(self.spec.transfer_to), "booking": bool(self.spec.booking_tool)}
        if wanted is not None and has[wanted]:
            return wanted
        if has["transfer"]:
            return "transfer"
        if has["booking"]:
            return "booking"
        return None

    def booking_intent(self) -> IntentSpec:
        e = self.spec
        return IntentSpec(
            name="book_human", examples=["book a call"], form=e.booking_form, confirm=None, tool=e.booking_tool,
            reply=e.booking_reply, sms=e.booking_sms, summary="a callback booked with a person",
        )


MAX_WORDS = 25  # of each thing the caller said, in the summary: the person needs the gist, not a transcript


def handover_summary(
    *, name: str | None, phone: str | None, reason: str, said: Sequence[str], done: Sequence[str], doing: str = ""
) -> str:
    """A short spoken summary for the person taking the call, for example::

        Transferred call from Daniel Reyes, on 415-555-0177. Reason: out of scope.
        They said: "can I stop taking my tablets". Done so far: nothing yet.

    ``said``: the caller's requests, oldest first (the first and the last are kept); ``done``: what
    the agent did in this call; ``doing``: a task left half done ("placing an order: product oat milk").
    """
    who = name or "a caller"
    number = _spoken_number(phone)
    parts = [f"Transferred call from {who}" + (f", on {number}." if number else ".")]
    parts.append(f"Reason: {reason.replace('_', ' ')}.")
    asked = [_gist(t) for t in said if t.strip()]
    asked = list(dict.fromkeys(asked[:1] + asked[-1:]))
    if asked:
        parts.append("They said: " + ", then ".join(f'"{t}"' for t in asked) + ".")
    if doing:
        parts.append(f"In the middle of {doing}.")
    parts.append(f"Done so far: {'; '.join(done) if done else 'nothing yet'}.")
    return " ".join(parts)


def _gist(text: str) -> str:
    words = text.strip().rstrip(".!?").split()
    return " ".join(words[:MAX_WORDS]) + (" ..." if len(words) > MAX_WORDS else "")


def _spoken_number(phone: str | None) -> str:
    """The number as a person reads it (national format, dashes between groups)."""
    if not phone:
        return ""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"[()]", "", national).replace(" ", "-")
