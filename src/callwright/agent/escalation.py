"""Handing a call to a person: a transfer now, or a call booked with a person.

:class:`Escalation` is the agent's policy (from ``escalation:`` in agent.yaml): whether a person can
take over at all, which way (``transfer`` when a number is configured, else ``booking``), the
lines to say, and the booking as an intent the dialogue carries out (its form, its tool, its SMS).
It says nothing by itself; :meth:`Dialogue.escalate` speaks and acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
