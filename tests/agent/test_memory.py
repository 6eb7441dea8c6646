"""What an agent keeps about a caller between calls, and how it uses it: real calls in text mode
(``TextCall``: the Call, the agent folder, a SQLite store), one call after another.

* facts: a value a completed request gave (the delivery address, a name) is written when the call
  ends and offered back next time ("Same delivery address as last time, ...?"); forget-me deletes
  them and nothing is written after it;
* summaries: the greeting of a known caller fills ``{last_summary}`` and ``{open_issue}``, and the
  LLM brain's instructions carry the facts and the latest summaries;
* ``forms.<name>.done`` is said once, as the form completes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callwright import events as ev
from callwright.agent.app import AgentApp, Services
from callwright.agent.spec import load_definition
from callwright.engines.llm.scripted import ScriptedLlm
from callwright.errors import ConfigError
from callwright.testing import TextCall

SAM = "+14155550123"  # the order desk's lookup hook knows him
ANN = "+14155550111"

TINY = """
name: tiny-desk
persona: A repair desk for tests.
greeting: Hello, tiny desk here.
greeting_known: "Hi {name}. Last time: {last_summary}. Still open: {open_issue}?"
intents:
  - name: repair
    examples: [I need a repair, my boiler is broken, can someone fix my heating]
    form: visit
    reply: A visit is booked for {name} at {address}.
    summary: a repair visit at {address}
    follow_up: repair
  - name: goodbye
    examples: [goodbye, bye]
    action: goodbye
forms:
  visit:
    fields:
      - {name: name, type: text, prompt: "What's your name?"}
      - {name: address, type: address, prompt: "What's the address?", confirm_below: 0.0}
    done: Thanks {name}, I have everything I need.
"""


async def order(c: TextCall, product: str, *, address: str | None) -> str:
    """Order ``product`` (giving ``address`` when asked, or keeping the saved one); return the confirmation asked."""
    asked = await c.say(f"I'd like to order {product}")
    if address is not None:
        assert asked == "What's the delivery address?", asked
        return await c.say(address)
    return asked


async def test_a_delivery_address_is_kept_and_offered_back_next_time(agent_for: Callable[[str], Any], services: Services) -> None:
    async with TextCall(agent_for("order-desk"), caller=SAM) as c:
        await c.greeting()
        confirm = await order(c, "two oat milk", address="twelve oak street springfield")
        assert "twelve Oak Street" in confirm
        await c.say("yes")  # no job queue here: the order is placed on the call
    assert ("fact", "address") in [(e.action, e.detail) for e in c.events(ev.MemoryUpdated)]
    sam = await services.store.get_caller(SAM)
    assert sam is not None and sam.facts["address"].startswith("12 Oak Street"), sam

    async with TextCall(agent_for("order-desk"), caller=SAM) as c:
        await c.greeting()
        assert await c.say("no") == "No problem. How can I help?"  # not about the last order
        offered = await c.say("I'd like to order three avocados")
        assert offered.startswith("Same delivery address as last time, twelve Oak Street"), offered
        assert offered.endswith("?")
        confirm = await c.say("yes")
        assert confirm.startswith("So that's three avocados, delivered to twelve Oak Street"), confirm
        assert "is confirmed and will be delivered to twelve Oak Street" in await c.say("yes")
    assert not [e for e in c.events(ev.MemoryUpdated) if e.action == "fact"]  # nothing new to keep

    async with TextCall(agent_for("order-desk"), caller=SAM) as c:  # a caller who moved
        await c.greeting()
        await c.say("no")
        assert (await c.say("I'd like to order one sourdough")).startswith("Same delivery address as last time")
        assert await c.say("no") == "What's the delivery address?"
        confirm = await c.say("twenty elm road springfield")
        assert "twenty Elm Road" in confirm, confirm
        await c.say("yes")
    sam = await services.store.get_caller(SAM)
    assert sam is not None and sam.facts["address"].startswith("20 Elm Road"), sam


async def test_forget_me_deletes_the_facts_and_nothing_is_written_after_it(agent_for: Callable[[str], Any], services: Services) -> None:
    async with TextCall(agent_for("order-desk"), caller=SAM) as c:
        await c.greeting()
        await order(c, "two oat milk", address="twelve oak street springfield")
        await c.say("yes")
    assert (await services.store.get_caller(SAM)).facts  # type: ignore[union-attr]
    async with TextCall(agent_for("order-desk"), caller=SAM) as c:
        await c.greeting()
        await c.say("no")
        assert "delete everything" in await c.say("please forget me")
        assert "deleted" in await c.say("yes")
        # after forgetting, the saved address is not offered, and the new one is not kept
        confirm = await order(c, "two oat milk", address="nine pine avenue springfield")
        assert "nine Pine Avenue" in confirm, confirm
        await c.say("yes")
    assert await services.store.get_caller(SAM) is None
    assert await services.store.summaries(SAM) == []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> AgentApp:
    folder = tmp_path_factory.mktemp("tiny-desk")
    (folder / "agent.yaml").write_text(TINY)
    return AgentApp(load_definition(folder))


async def test_the_greeting_of_a_known_caller_names_the_last_call_and_the_open_issue(tiny: AgentApp, services: Services) -> None:
    tiny.services = services
    async with TextCall(tiny.agent(), caller=ANN) as c:
        assert await c.greeting() == "Hello, tiny desk here."
        assert (await c.say("my boiler is broken")).endswith("What's your name?")
        assert await c.say("Ann Lee") == "What's the address?"
        done = await c.say("twelve oak street")
    # the form's done line, once, as it completes, then the intent's reply
    assert done.lower().startswith("thanks ann lee, i have everything i need. a visit is booked for ann lee at twelve oak street"), done
    assert done.count("I have everything I need") == 1
    ann = await services.store.get_caller(ANN)
    assert ann is not None and ann.name == "Ann Lee" and ann.facts == {"name": "Ann Lee", "address": "12 Oak Street"}

    async with TextCall(tiny.agent(), caller=ANN) as c:
        greeting = await c.greeting()
    assert greeting == "Hi Ann Lee. Last time: a repair visit at twelve Oak Street. Still open: a repair visit at twelve Oak Street?"


def test_memory_facts_must_name_a_slot_or_a_field(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(TINY + "memory: {facts: [adress]}\n")
    with pytest.raises(ConfigError, match=r"agent.yaml:22: field 'memory\.facts\[0\]': 'adress' is no slot or form field; did you mean 'address'\?"):
        load_definition(tmp_path)


async def test_the_llm_brain_is_told_the_facts_and_the_last_calls(agent_for: Callable[[str], Any], services: Services, apps: dict[str, AgentApp]) -> None:
    async with TextCall(agent_for("order-desk"), caller=SAM) as c:
        await c.greeting()
        await order(c, "two oat milk", address="twelve oak street springfield")
        await c.say("yes")
    llm = ScriptedLlm(["Hello again Sam."])
    app = apps["order-desk"]
    app.services = Services(**{**services.__dict__, "llm": llm})
    try:
        async with TextCall(app.agent(), caller=SAM) as c:
            await c.greeting()
            assert await c.say("hi there, who am I talking to") == "Hello again Sam."
    finally:
        app.services = services
    (request,) = llm.requests
    system = request.messages[0]
    assert system.role == "system"
    assert "The caller is Sam" in system.content
    assert "Kept from earlier calls: address: 12 Oak Street" in system.content
    assert "Their earlier calls, newest first: your order of 2 oat milk" in system.content
    assert "Still open from an earlier call: your order of 2 oat milk" in system.content
