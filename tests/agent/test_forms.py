"""Forms: when a value is kept, read back or asked again; low recognition confidence on a live call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callwright import events as ev
from callwright.agent.forms import judge
from callwright.agent.spec import FieldSpec
from callwright.agent.values import Parsed
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.testing import LocalCall, silence, tone
from callwright.voice.call import Engines

ADDRESS = FieldSpec(name="address", type="address", prompt="What's the address?", confirm_below=0.85)
SURE = Parsed("12 Oak Street", "12 Oak Street", "twelve Oak Street", 1.0)


@pytest.mark.parametrize(
    ("field", "parsed", "confidence", "verdict"),
    [
        (ADDRESS, SURE, 0.95, "fill"),
        (ADDRESS, SURE, None, "fill"),  # typed: nothing to doubt
        (ADDRESS, SURE, 0.6, "confirm"),  # misheard? read it back
        (ADDRESS, Parsed("Oak", "Oak", "Oak", 0.6), 0.95, "confirm"),  # the parser is unsure
        (ADDRESS, Parsed("Um Not Sure", "Um Not Sure", "Um Not Sure", 0.3), 0.95, "retry"),
        (ADDRESS, None, 0.95, "retry"),
        (ADDRESS.model_copy(update={"high_stakes": True}), SURE, 0.99, "confirm"),  # always read back
    ],
)
def test_judge(field: FieldSpec, parsed: Parsed | None, confidence: float | None, verdict: str) -> None:
    assert judge(field, parsed, confidence) == verdict


async def test_a_low_confidence_address_is_read_back_on_a_call(agent_for: Callable[[str], Any]) -> None:
    """A voice call with recognition confidence 0.6 (below the field's 0.85): the agent confirms."""
    stt = FakeStt(["I'd like to order three avocados", "twelve oak street springfield", "yes"], confidence=0.6)
    async with LocalCall(agent_for("order-desk"), Engines(stt, FakeTts(ms_per_char=5), EnergyVad()), caller="+14155550999") as c:
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        for turn in (1, 2, 3):
            await c.speak(tone(0.8))
            await c.speak(silence(1.0))
            await c.wait_for(lambda e, t=turn: isinstance(e, ev.AgentTurn) and e.turn == t, timeout=30)
        replies = [e.text for e in c.events(ev.AgentTurn)]
        statuses = [(f.field, f.status) for f in c.events(ev.FormField)]
        patience = c.events(ev.TurnPatience)
    assert replies[2] == "I heard twelve Oak Street, Springfield. Is that right?"
    assert statuses == [("address", "asked"), ("address", "confirm"), ("address", "confirmed")]
    assert replies[3].startswith("So that's three avocados, delivered to twelve Oak Street")
    assert patience and patience[0].reason == "delivery.address"
