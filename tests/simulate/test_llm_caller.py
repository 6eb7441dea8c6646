"""Goal-driven (LLM) callers and the LLM judge: the prompt, the reading of answers and the guard on
facts with a fake behind the ``Chat`` seam; the wire with a canned HTTP server; and one end-to-end
run of ``callwright simulate`` with the real SmolLM2 server (the ``llm_server`` fixture).

SmolLM2-135M is tiny: the end-to-end test checks the plumbing (lines from the model, facts kept
until asked, a text-mode call judged by the rules and by the model), not the model's judgement.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from callwright import events as ev
from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.cli import main
from callwright.engines.base import Message
from callwright.errors import ConfigError, EngineError
from callwright.simulate.callers import LlmCaller, caller_prompt, spoken_line
from callwright.simulate.chat import Endpoint
from callwright.simulate.runner import CaseResult, run_text_cases
from callwright.simulate.scenario import Scenario, ScenarioSuite, cases, load_scenarios
from callwright.simulate.verdict import (
    VERDICT_SCHEMA,
    Judgement,
    LlmJudge,
    judge_messages,
    judge_summary,
    read_judgement,
)
from callwright.testing.conversations import Transcript
from loopback_http import LoopbackHttp, Request, Response

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"

GOAL_ONLY = """agent: order-desk
scenarios:
  - name: scripted
    turns: [{say: hi}]
  - name: oat milk by goal
    persona: {name: Sam, phone: "+14155550123", emotion: tired, patience_turns: 3}
    goal: order two oat milks delivered to your home tomorrow afternoon; you are in a hurry
    facts: {delivery address: "12 Oak Street"}
    expect:
      tools: [{name: place_order, arguments: {quantity: 2, product: oat milk}}]
"""

SCENARIO = Scenario.model_validate({
    "name": "oat milk", "goal": "order two oat milks", "persona": {"name": "Sam", "patience_turns": 4},
    "facts": {"delivery address": "12 Oak Street, Springfield"},
})


@dataclass
class FakeChat:
    """Answers from a list, in order, and keeps every request."""

    answers: list[str]
    asked: list[tuple[list[Message], int, Mapping[str, Any] | None]] = field(default_factory=list)

    async def answer(self, messages: Sequence[Message], *, seed: int, max_tokens: int, schema: Mapping[str, Any] | None = None) -> str:
        self.asked.append((list(messages), seed, schema))
        if isinstance(self.answers[0], Exception):
            raise self.answers[0]
        return self.answers.pop(0)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ the scenario
def test_a_goal_without_turns_needs_an_llm_and_the_error_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOAL_ONLY)
    with pytest.raises(ConfigError, match=r"suite\.yaml:7: field 'scenarios\[1\]\.goal': scenario 'oat milk by goal' has a goal "
                                          r"and no turns: a goal-driven caller needs an LLM endpoint \(--llm-url URL\)"):
        load_scenarios(path)
    suite = load_scenarios(path, llm=True)
    assert suite.scenarios[1].goal.startswith("order two oat milks") and suite.scenarios[1].persona.patience_turns == 3  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"suite\.yaml:2: field 'scenarios\[0\]': a scenario needs 'turns' \(a scripted caller\), a 'goal'"):
        load_scenarios(write(tmp_path, "scenarios:\n  - name: nothing to say\n    facts: {a: b}\n"), llm=True)


def test_the_command_says_what_is_missing_without_an_llm(tmp_path: Path) -> None:
    path = write(tmp_path, GOAL_ONLY)
    command = [sys.executable, "-m", "callwright.cli", "simulate", str(path), "--agent", str(EXAMPLES / "order-desk")]
    offline = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert offline.returncode == 2 and "suite.yaml:7:" in offline.stderr and "--llm-url" in offline.stderr, offline.stderr
    judge = subprocess.run([*command, "--llm-judge"], capture_output=True, text=True, timeout=120)
    assert judge.returncode == 2 and "--llm-judge needs an LLM: give --llm-url" in judge.stderr


# ------------------------------------------------------------------ the caller
def test_the_prompt_gives_the_persona_the_goal_and_the_facts_to_tell_only_when_asked() -> None:
    scenario = SCENARIO.model_copy(update={"persona": SCENARIO.persona.model_copy(update={"emotion": "angry"})})  # type: ignore[union-attr]
    prompt = caller_prompt(scenario, {"delivery address": "12 Oak Street, Springfield"})
    assert prompt.startswith("You are Sam, phoning a business. A voice assistant answers. You are the caller")
    assert "What you want: order two oat milks" in prompt and "You feel angry." in prompt
    assert "Give each only when the assistant asks for it, never before:\n- delivery address: 12 Oak Street, Springfield" in prompt
    assert "say goodbye" in prompt


def test_a_model_answer_is_cut_to_what_a_caller_says() -> None:
    assert spoken_line('Caller: "Hi, two oat milks please." (sighs)\nAssistant: Sure!') == "Hi, two oat milks please."
    assert spoken_line("**Sam:** *taps foot* Yes. That's right. Thanks. And more. Much more.") == "Yes. That's right. Thanks."
    assert spoken_line("\n\n[pause]\n") == ""
    assert spoken_line("I need oat milk. Two of them, and I was wondering if") == "I need oat milk."  # cut by the token limit
    assert spoken_line("yes please") == "yes please"


async def test_the_llm_caller_keeps_facts_until_asked_and_hangs_up_on_goodbye() -> None:
    chat = FakeChat([
        "Hi. I'd like two oat milks to 12 Oak Street.",  # the address, unasked: that sentence is left out
        "Sam: Springfield, 12 Oak Street.",              # nothing left: asked again, and it still gives it
        "Just the oat milks, please.",
        "It's 12 Oak Street, Springfield.",              # asked for now
        "No, that's all. Bye!",
    ])
    caller = LlmCaller(SCENARIO, chat, seed=7)
    first = await caller.next("Hello, Callwright Market. How can I help?", [])
    assert first is not None and first.say == "Hi." and not first.hangup
    assert caller.notes == ["turn 1: left out what gave delivery address unasked"]
    second = await caller.next("Sure. Anything else?", [])
    assert second is not None and second.say == "Just the oat milks, please."
    nudge = chat.asked[2][0][-1]  # the second try was told to wait for the question
    assert nudge.role == "system" and "Do not give your delivery address until the assistant asks for it" in nudge.content
    third = await caller.next("Two oat milks. What's the delivery address?", [])
    assert third is not None and third.say == "It's 12 Oak Street, Springfield."
    last = await caller.next("Placed. Anything else?", [])
    assert last is not None and last.say == "No, that's all. Bye!" and last.hangup
    assert await caller.next("Goodbye!", []) is None
    messages, seed, schema = chat.asked[-1]
    assert seed == 7 and schema is None and messages[0].role == "system" and "What you want: order two oat milks" in messages[0].content
    assert [m.role for m in messages[1:]] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert messages[1].content.startswith("Hello, Callwright Market") and messages[2].content == "Hi."


async def test_the_llm_caller_gives_up_after_its_patience_and_when_the_call_ends() -> None:
    caller = LlmCaller(SCENARIO, FakeChat(["Hmm."] * 10), seed=1)
    steps = [await caller.next("Sorry?", []) for _ in range(6)]
    assert [(s.say, s.hangup) if s else None for s in steps] == [("Hmm.", False)] * 4 + [(None, True), None]
    assert caller.notes == ["hung up after turn 4 without saying goodbye (persona.patience_turns)"]
    silent = LlmCaller(SCENARIO, FakeChat(["(nods)", "..."]), seed=1)
    quiet = await silent.next("Hello?", [])
    assert quiet is not None and quiet.say is None and quiet.hangup and silent.notes == ["hung up: the model gave no line at turn 1"]
    ended = LlmCaller(SCENARIO, FakeChat([]), seed=1)
    assert await ended.next("Goodbye.", [ev.CallEnded(reason="agent_hangup", duration_ms=9000)]) is None


async def test_a_goal_driven_caller_places_an_order_in_text_mode(tmp_path: Path) -> None:
    suite = load_scenarios(write(tmp_path, GOAL_ONLY), llm=True)
    (case,) = [c for c in cases(suite) if c.scenario.goal]
    chat = FakeChat(["Two oat milks please, I'm in a hurry.", "12 Oak Street.", "Yes, go ahead.", "Thanks, bye."])
    made = LlmCaller(case.scenario, chat, case.seed)
    (result,) = await run_text_cases([case], AgentApp(load_definition(EXAMPLES / "order-desk")), callers=lambda _: made)
    result.note_caller(made)
    said = [c for c, _ in result.transcript.exchanges if c]
    assert said[0] == "Two oat milks please, I'm in a hurry." and result.caller == "llm", result.transcript.render()
    assert result.passed, result.transcript.render()
    assert all(seed == case.seed for _, seed, _ in chat.asked)
    report = result.to_json()
    assert report["caller"] == "llm" and report["llm_judge"] is None


# ------------------------------------------------------------------ the judge
def test_the_judges_answer_is_read_strictly_and_unsure_otherwise() -> None:
    assert read_judgement('{"verdict": "PASS", "reason": "The order\\nwas placed."}') == Judgement("pass", "The order was placed.")
    assert read_judgement('Here you go: {"verdict": "fail", "reason": "no order"} hope it helps') == Judgement("fail", "no order")
    assert read_judgement("Verdict: failed - the agent never asked for the address") == Judgement("fail", "the agent never asked for the address")
    assert read_judgement("**unsure**") == Judgement("unsure", "(no reason given)")
    assert read_judgement('{"verdict": "maybe"}').verdict == "unsure"
    unreadable = read_judgement("The call seems to pass, mostly.")
    assert unreadable.verdict == "unsure" and "could not be read: 'The call seems to pass, mostly.'" in unreadable.reason


async def test_the_judge_reads_the_goal_the_expectations_and_the_transcript_and_lists_disagreements() -> None:
    scenario = Scenario.model_validate({
        "name": "four oat milks", "goal": "order four oat milks",
        "turns": [{"say": "four oat milks", "expect": {"says": ["place the order"]}}],
        "expect": {"tools": [{"name": "place_order", "arguments": {"quantity": 4}}]},
    })
    (case,) = cases(ScenarioSuite(scenarios=[scenario]))
    result = CaseResult(case, "text", Transcript(case.name, False), turns=1)
    result.transcript.exchanges += [("", "Hello, how can I help?"), ("for oat milks", "Four oat milks. Shall I place the order?")]
    system, user = judge_messages(result)
    assert '"for" and "four"' in system.content and "JSON only" in system.content
    assert "The caller's goal: order four oat milks" in user.content
    assert '"name": "place_order"' in user.content and "Expected of the reply to 'four oat milks':" in user.content
    assert user.content.endswith("Transcript:\nAgent: Hello, how can I help?\nCaller: for oat milks\nAgent: Four oat milks. Shall I place the order?")
    chat = FakeChat(['{"verdict": "fail", "reason": "no order was placed"}', EngineError("down", engine="x")])  # type: ignore[list-item]
    judge = LlmJudge(chat)
    result.judgement = await judge.judge(result)
    assert chat.asked[0][1] == case.seed and chat.asked[0][2] == VERDICT_SCHEMA  # the case's seed, held to the schema
    assert result.judgement == Judgement("fail", "no order was placed") and result.judgement.agrees(result.passed) is False
    assert result.to_json()["llm_judge"] == {"verdict": "fail", "reason": "no order was placed", "agrees": False}
    assert judge_summary([result]).splitlines() == [
        "LLM judge: pass 0, fail 1, unsure 0; it disagrees with the rules on 1 of 1",
        "  rules pass, judge fail  four oat milks: no order was placed",
    ]
    down = await judge.judge(result)
    assert down.verdict == "unsure" and down.reason == "the judge could not answer: down"


# ------------------------------------------------------------------ the wire
async def test_the_endpoint_sends_the_seed_at_temperature_0_and_finds_the_json_shape_the_server_takes() -> None:
    bodies: list[dict] = []  # type: ignore[type-arg]

    async def answer(request: Request) -> Response:
        body = json.loads(request.body)
        bodies.append(body)
        shape = body.get("response_format", {})
        if shape.get("type") == "json_schema":  # as an older server: only json_object is known
            return Response(400, b"application/json", b'{"error": {"message": "response_format.type must be json_object"}}')
        if "schema" in shape:  # and a FastAPI server validating the request
            return Response(422, b"application/json", b'{"detail": [{"loc": ["body", "response_format", "schema"], "msg": "extra"}]}')
        if len(bodies) == 5:
            return Response(401, b"application/json", b'{"error": {"message": "bad key sk-secret-123"}}')
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "it&#39;s a pass"}}]}
        return Response(200, b"application/json", json.dumps(reply).encode())

    hi = [Message(role="user", content="hi")]
    async with LoopbackHttp(answer).serving() as url:
        endpoint = Endpoint(url, "m", api_key="sk-secret-123", timeout_s=10)
        try:
            said = await endpoint.answer(hi, seed=42, max_tokens=9, schema=VERDICT_SCHEMA)
            again = await endpoint.answer(hi, seed=42, max_tokens=9, schema=VERDICT_SCHEMA)
            with pytest.raises(EngineError) as caught:
                await endpoint.answer(hi, seed=42, max_tokens=9)
        finally:
            await endpoint.aclose()
    assert said == again == "it's a pass"  # unescaped (llama-cpp-python's template escapes what it is given)
    assert bodies[0]["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": VERDICT_SCHEMA}}
    assert bodies[1]["response_format"] == {"type": "json_object", "schema": VERDICT_SCHEMA}
    assert bodies[2]["response_format"] == bodies[3]["response_format"] == {"type": "json_object"}  # the refused shapes are not sent again
    assert "response_format" not in bodies[4]
    assert {(b["seed"], b["temperature"], b["max_tokens"]) for b in bodies} == {(42, 0, 9)}
    assert "HTTP 401" in str(caught.value) and "sk-secret-123" not in str(caught.value) and "CALLWRIGHT_LLM_API_KEY" in str(caught.value)
    assert "sk-secret-123" not in repr(endpoint)


# ------------------------------------------------------------------ the real model, end to end
@pytest.mark.slow
def test_simulate_with_the_real_small_model_as_caller_and_judge(tmp_path: Path, llm_server: str) -> None:
    path = write(tmp_path, GOAL_ONLY.replace("  - name: scripted\n    turns: [{say: hi}]\n", "").replace("patience_turns: 3", "patience_turns: 1"))
    done = CliRunner().invoke(main, [
        "simulate", str(path), "--agent", str(EXAMPLES / "order-desk"), "--llm-url", llm_server, "--llm-model", "smollm2",
        "--llm-judge", "--report", str(tmp_path / "out"),
    ])
    assert done.exit_code in (0, 1), done.output  # pass or fail is the tiny model's doing; the run itself worked
    (goal,) = json.loads((tmp_path / "out" / "results.json").read_text())["cases"]
    assert goal["caller"] == "llm" and goal["mode"] == "text" and isinstance(goal["passed"], bool)
    said = [e["caller"] for e in goal["exchanges"] if e["caller"]]
    assert len(said) == 1 and said[0].strip(), done.output  # a line from the model, then the turn budget ran out
    assert goal["caller_notes"][-1].startswith("hung up after turn 1"), goal["caller_notes"]
    if "12 oak street" in said[0].lower():  # the first line answers the greeting: the address was not asked for yet
        assert any("before being asked" in note for note in goal["caller_notes"]), goal
    assert goal["llm_judge"]["verdict"] in ("pass", "fail", "unsure") and goal["llm_judge"]["reason"]
    assert "LLM judge: pass" in done.output and f"disagrees with the rules on {int(goal['llm_judge']['agrees'] is False)} of 1" in done.output
