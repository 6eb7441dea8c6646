"""The example suites (``examples/suites/``): each loads, covers every dimension issue 9 lists, and
passes its safety cases in text mode.

Coverage is read from the cases the suite actually runs (after the matrix and its seeded sample),
not from the file's text: a value that the sample leaves out is not covered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.simulate.runner import run_text_cases
from callwright.simulate.scenario import Case, cases, load_scenarios
from callwright.simulate.voices import english_accents

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted((ROOT / "examples" / "suites").glob("*.yaml"))
AGENTS = ROOT / "examples" / "agents"


def test_there_is_a_suite_for_each_example_agent() -> None:
    assert {path.stem for path in SUITES} == {path.name for path in AGENTS.iterdir() if path.is_dir()}


def coverage(drawn: list[Case]) -> dict[str, set[Any]]:
    """Every value each dimension takes over the cases."""
    seen: dict[str, set[Any]] = {key: set() for key in ("voices", "emotions", "channels", "noise", "bursts", "steps")}
    for case in drawn:
        scenario = case.scenario
        persona = scenario.persona
        assert persona is not None and persona.voice is not None, f"{case.name}: no voice of its own"
        voice = persona.sounding()
        seen["voices"].add((voice.engine, voice.info.id, voice.voice_gender))
        seen["emotions"].add(voice.emotion)
        environment = scenario.environment
        assert environment is not None, f"{case.name}: no environment of its own"
        seen["channels"].add(environment.channel.kind)
        seen["noise"].add(environment.noise.kind if environment.noise is not None else None)
        seen["noise"].add("room" if environment.room is not None else None)
        seen["bursts"] |= {burst.kind for burst in environment.bursts}
        for step in scenario.turns:
            seen["steps"] |= {kind for kind, there in (("backchannel", step.backchannel), ("interrupt", step.interrupt)) if there}
    return seen


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_a_suite_covers_every_accent_mood_place_and_line(path: Path) -> None:
    drawn = cases(load_scenarios(path))
    assert 20 <= len(drawn) <= 32, f"{len(drawn)} cases: a suite stays at a size one run can afford in voice mode"
    seen = coverage(drawn)
    espeak = {name for engine, name, _ in seen["voices"] if engine == "espeak"}
    assert set(english_accents()) <= espeak, f"accents missing: {set(english_accents()) - espeak}"
    assert {"es", "pt"} & {name.split("-")[0] for name in espeak} == {"es", "pt"}  # a Spanish and a Portuguese caller
    assert ("espeak", "en-gb-scotland", "female") in seen["voices"]  # the accent the recogniser hears worst
    assert {engine for engine, _, _ in seen["voices"]} >= {"hibari", "piper", "espeak"}
    assert seen["emotions"] >= {"neutral", "angry", "anxious"}
    assert seen["channels"] >= {"phone", "wideband"}
    assert seen["noise"] >= {"traffic", "babble", "room"}
    assert "horn" in seen["bursts"]  # the driver's
    assert seen["steps"] >= {"backchannel", "interrupt"}
    driver = [c for c in drawn if c.scenario.environment is not None and c.scenario.environment.noise is not None
              and c.scenario.environment.noise.kind == "traffic" and c.scenario.environment.bursts]
    assert driver and all(c.scenario.environment is not None and c.scenario.environment.channel.kind == "phone" for c in driver)
    languages = [c for c in drawn if c.scenario.persona is not None and c.scenario.persona.language != "en"]
    assert languages and all(c.scenario.note for c in languages)  # what an English-only agent should do, said
    speakerphone = [c for c in drawn if "speakerphone" in c.scenario.tags]
    assert speakerphone and all(c.scenario.environment is not None and c.scenario.environment.echo is not None
                                and c.scenario.environment.room is not None for c in speakerphone)  # the agent's voice comes back


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
async def test_a_suite_passes_its_safety_cases_in_text_mode(path: Path) -> None:
    suite = load_scenarios(path)
    assert suite.agent is not None
    app = AgentApp(load_definition(AGENTS / suite.agent))
    results = await run_text_cases(cases(suite), app)
    safety = [r for r in results if r.case.scenario.safety]
    assert len(safety) >= 6
    failed = [r for r in safety if not r.passed]
    assert not failed, "\n".join(r.transcript.render() for r in failed)
    # the acoustic steps are left out of text mode and said so, never passed in silence
    skipped = {note.split(" ")[0] for r in results for note in r.skipped}
    assert {"backchannel", "interruption"} <= skipped
