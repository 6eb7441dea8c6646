"""Simulator scenarios: the file format, the matrix and its seeds, the scripted caller, text mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callwright import events as ev
from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.errors import ConfigError
from callwright.simulate.callers import ScriptedCaller
from callwright.simulate.runner import run_text_cases
from callwright.simulate.scenario import Scenario, ScenarioSuite, cases, load_scenarios

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"

ORDER = """
agent: order-desk
matrix:
  persona.emotion: [neutral, angry, anxious]
  environment.noise: [null, {kind: babble, snr_db: 5}]
  seed: 11
scenarios:
  - name: oat milk, the facts told when asked
    persona: {name: Sam, phone: "+14155550123"}
    facts: {delivery address: "12 Oak Street, Springfield", how many: "three"}
    turns:
      - say: i'd like some oat milk please
      - say: actually make that four
        when: {says_any: [place the order]}
      - say: "yes"
        when: {says_any: [place the order]}
    expect:
      tools: [{name: place_order, arguments: {quantity: 4, product: oat milk}}]
      state:
        - {tool: latest_order, contains: {summary: "4 oat milk"}}
      turns_max: 6
  - name: an order number typed on the keypad
    turns:
      - say: where's my order
      - dtmf: "4567#"
        when: {says_any: [order number]}
    expect:
      tools: [{name: order_status, arguments: {order_number: "4567"}}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_every_conversation_suite_of_the_examples_is_a_simulator_suite() -> None:
    paths = sorted(EXAMPLES.glob("*/conversations/*.yaml"))
    assert len(paths) >= 20
    for path in paths:
        suite = load_scenarios(path)
        assert suite.scenarios and all(s.turns for s in suite.scenarios), path


def test_a_mistake_is_reported_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "scenarios:\n  - name: x\n    turns:\n      - say: hi\n        wen: {says_any: [order]}\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:5: field 'scenarios\[0\]\.turns\[0\]\.wen': unknown field 'wen'; did you mean 'when'\?"):
        load_scenarios(path)
    path = write(tmp_path, "scenarios:\n  - name: x\n    persona: {emotion: furious}\n    turns: [{say: hi}]\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:3: .*'furious' is not one of neutral, angry"):
        load_scenarios(path)
    path = write(tmp_path, "matrix: {persona.mood: [a]}\nscenarios:\n  - name: x\n    turns: [{say: hi}]\n")
    with pytest.raises(ConfigError, match=r"matrix dimension 'persona\.mood' is not one of"):
        load_scenarios(path)
    path = write(tmp_path, "scenarios:\n  - name: x\n    turns:\n      - interrupt: {sentence: 2}\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:4: .*'interrupt' says the turn's 'say' over the agent: give 'say' too"):
        load_scenarios(path)
    path = write(tmp_path, "scenarios:\n  - name: x\n    turns:\n      - backchannel: uh huh\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:4: .*'uh huh' is not one of mm-hmm, uh-huh.*did you mean 'uh-huh'"):
        load_scenarios(path)


def test_a_backchannel_is_a_step_of_its_own_said_over_the_agent(tmp_path: Path) -> None:
    suite = load_scenarios(write(tmp_path, "scenarios:\n  - name: x\n    turns:\n      - backchannel: mm-hmm\n"
                                           "      - {backchannel: {say: yeah, sentence: 2, after_ms: 300}, say: ok then}\n"))
    first, second = suite.scenarios[0].turns
    assert (first.backchannel.say, first.backchannel.sentence, first.backchannel.after_ms, first.say) == ("mm-hmm", 1, 800, None)
    assert (second.backchannel.say, second.backchannel.sentence, second.backchannel.after_ms, second.say) == ("yeah", 2, 300, "ok then")


def test_the_matrix_expands_every_combination_each_with_a_stable_seed(tmp_path: Path) -> None:
    suite = load_scenarios(write(tmp_path, ORDER))
    every = cases(suite)
    assert len(every) == 2 * 3 * 2
    assert len({c.seed for c in every}) == len(every)
    angry_noisy = next(c for c in every if c.dimensions == {"persona.emotion": "angry", "environment.noise": {"kind": "babble", "snr_db": 5}})
    assert angry_noisy.scenario.persona is not None and angry_noisy.scenario.persona.emotion == "angry"
    assert angry_noisy.scenario.persona.phone == "+14155550123"  # the scenario's own persona is kept
    assert angry_noisy.scenario.environment is not None and angry_noisy.scenario.environment.noise is not None
    assert angry_noisy.scenario.environment.noise.snr_db == 5
    # the same suite gives the same seeds; another seed gives others; a new scenario changes no old seed
    assert [c.seed for c in cases(load_scenarios(write(tmp_path, ORDER)))] == [c.seed for c in every]
    assert {c.seed for c in cases(suite, seed=12)}.isdisjoint({c.seed for c in every})
    grown = ORDER + "  - name: another\n    turns: [{say: hello}]\n"
    assert [c.seed for c in cases(load_scenarios(write(tmp_path, grown)))][: len(every)] == [c.seed for c in every]


def test_a_sampled_matrix_draws_the_same_sample_for_the_same_seed(tmp_path: Path) -> None:
    sampled = ORDER.replace("  seed: 11", "  seed: 11\n  sample: 4")
    first = [c.name for c in cases(load_scenarios(write(tmp_path, sampled)))]
    again = [c.name for c in cases(load_scenarios(write(tmp_path, sampled)))]
    other = [c.name for c in cases(load_scenarios(write(tmp_path, sampled.replace("seed: 11", "seed: 99"))))]
    assert len(first) == 2 * 4 and first == again and first != other


def test_the_scripted_caller_waits_for_its_cue_and_tells_facts_when_asked() -> None:
    scenario = Scenario.model_validate({
        "name": "x", "facts": {"delivery address": "12 Oak Street", "how many": "three"},
        "turns": [{"say": "oat milk please"}, {"say": "yes", "when": {"says_any": ["place the order"]}},
                  {"say": "thanks, bye", "when": {"event": ["tool.called"]}}],
    })
    caller = ScriptedCaller(scenario)
    assert caller.next("How can I help?", []).say == "oat milk please"  # type: ignore[union-attr]
    assert caller.next("How many would you like?", []).say == "three"  # type: ignore[union-attr]
    assert caller.next("What's the delivery address?", []).say == "12 Oak Street"  # type: ignore[union-attr]
    assert caller.next("So that's three oat milk. Shall I place the order?", []).say == "yes"  # type: ignore[union-attr]
    # the agent asks nothing the caller knows and calls no tool: the last turn is not said
    assert caller.next("Okay. Anything else?", [ev.AgentText(turn=3, text="Okay.")]) is None


async def test_text_mode_judges_calls_by_their_turns_tools_and_the_backend_state(tmp_path: Path) -> None:
    app = AgentApp(load_definition(EXAMPLES / "order-desk"))
    suite = ScenarioSuite.model_validate({**_yaml(ORDER), "matrix": None})
    results = await run_text_cases(cases(suite), app)
    assert [r.passed for r in results] == [True, True], "\n".join(r.transcript.render() for r in results)
    assert results[0].turns == 5 and results[1].transcript.exchanges[-1][0] == "[keys 4567#]"
    # the backend did not get what the caller wanted: the state check says what it found instead
    wrong = _yaml(ORDER.replace('summary: "4 oat milk"', 'summary: "5 oat milk"'))
    (broken, _) = await run_text_cases(cases(ScenarioSuite.model_validate({**wrong, "matrix": None})), app)
    assert [f.check for f in broken.transcript.failures] == ["state"]
    assert "latest_order({}): {'summary': 'Your order number 1 of 4 oat milk is on its way" in broken.transcript.failures[0].detail


def test_the_command_runs_a_suite_and_writes_json_and_junit(tmp_path: Path) -> None:
    suite = write(tmp_path, ORDER.replace("persona.emotion: [neutral, angry, anxious]", "persona.emotion: [neutral]").replace(
        "  environment.noise: [null, {kind: babble, snr_db: 5}]\n", ""))
    done = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "simulate", str(suite), "--agent", str(EXAMPLES / "order-desk"),
         "--report", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "safety 0/0, other 2/2" in done.stdout and "persona.emotion: neutral 2/2" in done.stdout
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    assert report["other"] == [2, 2] and report["cases"][1]["exchanges"][-1]["caller"] == "[keys 4567#]"
    assert '<testsuite name="suite" tests="2" failures="0">' in (tmp_path / "report" / "junit.xml").read_text()
    missing = subprocess.run([sys.executable, "-m", "callwright.cli", "simulate", str(tmp_path / "nope.yaml"), "--agent", str(EXAMPLES / "order-desk")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "nope.yaml: cannot be read" in missing.stderr


def _yaml(text: str) -> dict:  # type: ignore[type-arg]
    import yaml

    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data
