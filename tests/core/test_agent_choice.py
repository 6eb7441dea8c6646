"""Which agent a server serves, from --agent and --llm-url (docs/cli.md has the table)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callwright.agent.brain import EmbeddedBrain
from callwright.agent.llm import LlmAgent
from callwright.agent.llm_brain import LlmBrain
from callwright.agent.scripted import ScriptedAgent
from callwright.agent.spec_agent import SpecAgent
from callwright.errors import ConfigError
from callwright.server import load_agent
from callwright.settings import Settings

ORDER_DESK = str(Path(__file__).resolve().parents[2] / "examples" / "agents" / "order-desk")
LLM = "http://127.0.0.1:9/v1"  # never asked: choosing the agent sends no request


def test_a_folder_keeps_its_agent_and_the_model_becomes_its_brain() -> None:
    plain = load_agent(Settings.load(agent=ORDER_DESK))
    with_llm = load_agent(Settings.load(agent=ORDER_DESK, llm_url=LLM))
    assert isinstance(plain, SpecAgent) and isinstance(plain.brain, EmbeddedBrain)
    assert isinstance(with_llm, SpecAgent) and isinstance(with_llm.brain, LlmBrain)
    assert with_llm.name == plain.name == "order-desk"  # the same agent: its safety, scope, forms and tools


def test_a_factory_is_used_whether_or_not_a_model_is_given(caplog: pytest.LogCaptureFixture) -> None:
    agent = load_agent(Settings.load(agent="callwright.agent.scripted:front_desk", llm_url=LLM))
    assert isinstance(agent, ScriptedAgent) and agent.name == "front-desk"
    assert "--llm-url is not passed" in caplog.text


class Greeter:
    """Has the old duck-typed shape (greeting and respond), not the Agent contract."""

    name = "greeter"

    def greeting(self, context: object) -> str:
        return "Hello."

    async def respond(self, turn: object, context: object) -> AsyncIterator[object]:
        yield "Hi."


def greeter() -> Greeter:
    return Greeter()


def test_a_factory_must_return_an_agent() -> None:
    message = r"the factory returned Greeter, which has no open, aclose; subclass callwright.agent.Agent"
    with pytest.raises(ConfigError, match=message):
        load_agent(Settings.load(agent=f"{__name__}:greeter"))


def test_the_built_in_front_desk_with_a_model_is_the_same_desk_and_cannot_transfer() -> None:
    agent = load_agent(Settings.load(llm_url=LLM))
    assert isinstance(agent, LlmAgent) and agent.name == "front-desk" and not agent.tools
    assert "cannot put callers through to a person" in agent.instructions
    assert isinstance(load_agent(Settings.load()), ScriptedAgent)


def test_a_call_may_name_only_the_agent_served() -> None:
    settings = Settings.load(agent=ORDER_DESK)
    assert load_agent(settings, "order-desk").name == "order-desk"
    assert load_agent(settings, ORDER_DESK).name == "order-desk"
    with pytest.raises(ConfigError, match="agent 'front-desk' is not served here; this server serves 'order-desk'"):
        load_agent(settings, "front-desk")
    with pytest.raises(ConfigError, match="agent 'os:system' is not served here"):  # never imported
        load_agent(Settings.load(), "os:system")


def test_the_front_desk_transfer_number_must_be_e164() -> None:
    with pytest.raises(ConfigError, match=r"transfer_to '555-0100' is not a phone number in E\.164 form"):
        Settings.load(transfer_to="555-0100")
    assert Settings.load(transfer_to="+15551230000").transfer_to == "+15551230000"
