"""Real-time mode: the simulator dials agents over the real transports, at a call's pace.

* A phone's playback, as the handset models it: a burst plays in time, a clear drops the rest.
* An agent written without Callwright (``foreign_agent.py``: websockets and numpy, Twilio Media
  Streams) is called in real time and judged on what the caller heard.
* The issue's proof: the same suite against ``callwright run`` gives the same verdicts in fast mode
  and in real time over Twilio (and over the native protocol, where the agent's events are judged too).
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
import soundfile

from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.audio.resample import resample
from callwright.server import build_engines, warm
from callwright.settings import Settings
from callwright.simulate import report
from callwright.simulate.handset import Playback
from callwright.simulate.judge import latency_summary
from callwright.simulate.realtime import RealtimeResult, default_stt, run_realtime
from callwright.simulate.scenario import ScenarioSuite, cases
from callwright.simulate.utterance import speak
from callwright.simulate.voicecall import VoiceResult, run_voice
from callwright.simulate.voices import Voice
from callwright.testing.server import ServerProcess, server_process

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples" / "agents"


def test_a_phone_plays_a_burst_in_time_and_a_clear_drops_what_has_not_played() -> None:
    playback = Playback(8000)
    tone = (np.sin(np.arange(8000) * 0.3) * 8000).astype(np.int16)  # 1 s, loud
    silence = np.zeros(1600, dtype=np.int16)
    playback.arrive(10.0, np.concatenate((silence, tone)))  # 0.2 s of silence, then the tone, all at once
    playback.arrive(10.1, tone)  # arrives while the first plays: queued behind it
    assert playback.end == pytest.approx(12.2)
    assert playback.first_voiced(0.0) == pytest.approx(10.2, abs=1e-3)  # the first voiced sample, not the chunk
    assert playback.last_voiced_end() == pytest.approx(12.2)
    assert playback.between(11.2, 11.3).tolist() == tone[:800].tolist()  # the second chunk, from its start
    playback.clear(11.5)  # barge-in: half a second of the second chunk never plays
    assert playback.end == 11.5 and playback.last_voiced_end() == pytest.approx(11.5)
    assert not playback.between(11.5, 12.2).any()
    playback.arrive(11.6, tone[:800])  # what comes after a clear plays when it arrives
    assert playback.first_voiced(11.5) == pytest.approx(11.6, abs=1e-3) and playback.end == pytest.approx(11.7)


# ------------------------------------------------------------------------------- an agent that is not ours
PROMPTS = {
    "greeting": "Thanks for calling the hours line. How can I help?",
    "hours": "We are open from nine to five, Monday to Friday.",
}
ASKS_HOURS = {
    "name": "opening hours",
    "persona": {"phone": "+14155550142"},
    "turns": [{"say": "hi, what time are you open today?", "expect": {"says": "nine to five", "tool": "opening_hours"}}],
}
EXPECTS_SEVEN = {"name": "expects seven", "turns": [{"say": "when do you open?", "expect": {"says": "seven"}}]}


@pytest.fixture
def hours_line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The foreign agent in a process of its own, its prompts said by hibari here (it imports no Callwright)."""
    folder = tmp_path_factory.mktemp("hours-line")
    for name, text in PROMPTS.items():
        said = speak(text, Voice(), seed=1)
        soundfile.write(folder / f"{name}.wav", resample(said.pcm, said.sample_rate, 8000), 8000, subtype="PCM_16")
    agent = subprocess.Popen(
        [sys.executable, str(HERE / "foreign_agent.py"), "--prompts", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert agent.stdout is not None
        ready, _, _ = select.select([agent.stdout], [], [], 30)
        first = agent.stdout.readline() if ready else ""
        assert first.startswith("listening on "), first + (agent.stdout.read() if agent.poll() is not None else "")
        yield f"ws://127.0.0.1:{first.split()[-1]}", agent
    finally:
        agent.terminate()
        agent.wait(10)
        if agent.stdout is not None:
            agent.stdout.close()


@pytest.mark.slow
async def test_an_agent_not_built_with_callwright_is_called_over_twilio_and_judged_on_what_the_caller_heard(
    hours_line: tuple[str, subprocess.Popen[str]], tmp_path: Path,
) -> None:
    url, agent = hours_line
    stt = await default_stt()
    asks, seven = cases(ScenarioSuite.model_validate({"scenarios": [ASKS_HOURS, EXPECTS_SEVEN]}))
    results: dict[str, RealtimeResult] = {}

    async def call(case: Any, wav: Path | None) -> None:
        results[case.name] = await run_realtime(case, url, protocol="twilio", stt=stt, recording=wav)

    async with anyio.create_task_group() as tg:  # two calls at once, as a suite runs them
        tg.start_soon(call, asks, tmp_path / "asks.wav")
        tg.start_soon(call, seven, None)
    good, bad = results[asks.name], results[seven.name]

    # What the agent said is what the caller heard, transcribed: "nine to five" is judged on it.
    assert good.passed, good.transcript.render()
    assert good.replies_from == "audio" and good.mode == "realtime"
    greeting, answer = good.transcript.exchanges
    assert "hours line" in greeting[1].lower() and answer[0] == ASKS_HOURS["turns"][0]["say"], good.transcript.render()
    # The tool check needs the agent's events, which Twilio does not carry: listed, not passed in silence.
    assert good.unjudged == ["tool (turn 1): needs the agent's events: Twilio Media Streams carry audio only"]
    (turn,) = good.heard
    assert turn.wer is None and turn.heard == ""  # what the agent heard is its own business over Twilio
    # Its endpointing waits 700 ms of quiet (measured against its energy threshold, not our voiced end)
    assert turn.latency_ms is not None and 300 < turn.latency_ms < 3000, turn

    # Expecting "seven" fails, and the failure carries what the caller heard.
    assert [(f.turn, f.check) for f in bad.transcript.failures] == [(1, "says")], bad.transcript.render()
    heard = bad.transcript.exchanges[-1][1]
    detail = bad.transcript.failures[0].detail
    assert "'seven' missing" in detail and heard in detail and ("9 to 5" in heard or "nine to five" in heard.lower()), detail

    # The report says what was not judged, in the terminal and in the JSON.
    table = report.summary([good, bad])
    assert "1 not judged" in table and "not judged over this transport: tool (see the JSON report)" in table, table
    written = report.to_json([good, bad])["cases"][0]
    assert written["unjudged"] == good.unjudged and written["replies_from"] == "audio" and written["heard"][0]["wer"] is None

    # The recording: 8 kHz stereo, the greeting before the caller speaks, the answer after.
    audio, rate = soundfile.read(tmp_path / "asks.wav", dtype="int16")
    assert rate == 8000 and audio.shape[1] == 2
    caller = np.flatnonzero(np.abs(audio[:, 0]) > 1000) / rate
    agent_side = np.flatnonzero(np.abs(audio[:, 1]) > 1000) / rate
    assert agent_side[0] < caller[0] < caller[-1] < agent_side[-1]

    # The agent's side of it: the number came in start.customParameters, each prompt's mark came
    # back once played, and the stream was stopped when the caller hung up.
    agent.terminate()
    said = agent.communicate(timeout=10)[0]
    assert "call from +14155550142 on MZ" in said and "call from anonymous on MZ" in said, said
    assert said.count("played greeting") == 2 and said.count("played hours") == 2 and said.count("stopped") == 2, said


# ------------------------------------------------------------------------------- the proof: same verdicts
STATUS = {
    "name": "where is my order",
    "persona": {"name": "Sam", "phone": "+14155550123"},
    "turns": [{"say": "hi, can you check on order one two three four", "expect": {"says": ["being packed"]}}],
    "expect": {"tools": [{"name": "order_status", "arguments": {"order_number": "1234"}}]},
}
WRONG = {  # an expectation the agent does not meet: the verdicts must agree on a failure too
    "name": "a delivered order expected as packed",
    "persona": {"phone": "+14155550188"},
    "turns": [{"say": "hi, can you check on order seven eight nine zero", "expect": {"says": ["being packed"]}}],
}


@pytest.fixture(scope="module")
def order_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("order-desk")
    env = {"CALLWRIGHT_DATA_DIR": str(folder / "data"), "CALLWRIGHT_TRACE_DIR": str(folder / "traces")}
    with server_process("--agent", str(EXAMPLES / "order-desk"), "--log-level", "warning", log=folder / "server.log", env=env) as server:
        yield server


def _p50(results: list[VoiceResult]) -> float | None:
    return latency_summary([h.latency_ms for r in results for h in r.heard if h.latency_ms is not None])["p50"]


@pytest.mark.slow
async def test_the_same_suite_gives_the_same_verdicts_in_fast_mode_and_in_real_time_over_twilio_and_native(
    order_desk: ServerProcess, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str],
) -> None:
    chosen = cases(ScenarioSuite.model_validate({"scenarios": [STATUS, WRONG]}))
    engines = build_engines(Settings.load())
    warm(engines)
    app = AgentApp(load_definition(EXAMPLES / "order-desk"))
    fast = [await run_voice(case, app, engines) for case in chosen]
    stt = await default_stt()
    twilio = [await run_realtime(case, order_desk.url, protocol="twilio", stt=stt) for case in chosen]
    native = [await run_realtime(case, order_desk.url, protocol="native") for case in chosen]

    verdicts = {mode: [r.passed for r in results] for mode, results in (("fast", fast), ("twilio", twilio), ("native", native))}
    assert verdicts == {"fast": [True, False], "twilio": [True, False], "native": [True, False]}, "\n".join(
        r.transcript.render() for r in [*fast, *twilio, *native]
    )
    for results in (fast, twilio, native):
        assert [(f.turn, f.check) for f in results[1].transcript.failures] == [(1, "says")], results[1].transcript.render()
    # Over Twilio the replies were heard and transcribed, and the tool check could not be judged;
    # natively a Callwright agent reports its turns and tools, so everything was judged, as in fast mode.
    assert [r.replies_from for r in twilio] == ["audio", "audio"] and [r.replies_from for r in native] == ["events", "events"]
    assert twilio[0].unjudged == ["tools: needs the agent's events: Twilio Media Streams carry audio only"]
    assert native[0].unjudged == [] and native[0].heard[0].wer is not None
    assert "being packed" in twilio[0].transcript.exchanges[-1][1]

    line = f"order desk, voice-to-voice p50 as the caller hears it: fast {_p50(fast)} ms, real time over Twilio {_p50(twilio)} ms, native {_p50(native)} ms"
    request.node.user_properties.append(("latency_p50_ms", {"fast": _p50(fast), "twilio": _p50(twilio), "native": _p50(native)}))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line(line)
    for results in (fast, twilio, native):
        for turn in (h for r in results for h in r.heard):
            assert turn.latency_ms is not None and 300 < turn.latency_ms < 5000, line


PERSON = {
    "name": "asks for a person",
    "persona": {"phone": "+14155550166"},
    "turns": [{"say": "can I speak to a person please", "expect": {"says": "colleague", "escalates": True, "ends": True}}],
    "expect": {"escalates": True},
}


@pytest.mark.slow
async def test_over_twilio_a_transfer_is_judged_by_the_dial_that_follows_the_stream(order_desk: ServerProcess) -> None:
    """Twilio shows a transfer from outside: the agent ends the stream and its <Connect action> answers
    <Dial>. So ``escalates`` is judged over Twilio (dialled by the voice webhook), not left unjudged."""
    (case,) = cases(ScenarioSuite.model_validate({"scenarios": [PERSON]}))
    result = await run_realtime(case, f"{order_desk.url}/twilio/voice", protocol="twilio", stt=await default_stt())
    assert result.passed and result.unjudged == [], (result.transcript.render(), result.unjudged)
    assert "connecting you to a colleague" in result.transcript.exchanges[-1][1].lower(), result.transcript.render()

    # and an expectation of no escalation fails on it
    (stays,) = cases(ScenarioSuite.model_validate({"scenarios": [{**PERSON, "expect": {"escalates": False}}]}))
    kept = await run_realtime(stays, order_desk.url, protocol="twilio", stt=await default_stt())
    assert [(f.turn, f.check) for f in kept.transcript.failures] == [(None, "escalates")], kept.transcript.render()


def test_the_cli_dials_a_target_or_runs_an_agent_and_says_what_is_wrong(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from callwright.cli import main
    from callwright.testing.server import free_port

    suite = tmp_path / "suite.yaml"
    suite.write_text("scenarios:\n  - name: hello\n    turns: [{say: hello}]\n")
    run = CliRunner().invoke
    both = run(main, ["simulate", str(suite), "--agent", str(EXAMPLES / "order-desk"), "--target", "ws://127.0.0.1:1/ws"])
    neither = run(main, ["simulate", str(suite)])
    voiced = run(main, ["simulate", str(suite), "--target", "ws://127.0.0.1:1/ws", "--voice"])
    assert [r.exit_code for r in (both, neither, voiced)] == [2, 2, 2]
    assert "one of them" in both.output and "one of them" in neither.output and "always called by voice" in voiced.output
    port = free_port()
    for protocol, url in (("twilio", f"http://127.0.0.1:{port}"), ("native", f"ws://127.0.0.1:{port}/ws")):
        nobody = run(main, ["simulate", str(suite), "--target", url, "--protocol", protocol])
        assert nobody.exit_code == 1 and "could not" in nobody.output and str(port) in nobody.output, nobody.output


@pytest.mark.slow
def test_the_cli_dials_several_calls_at_once_and_reports_each(hours_line: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from callwright.cli import main

    url, _ = hours_line
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps({"scenarios": [ASKS_HOURS, EXPECTS_SEVEN]}))  # YAML reads JSON
    ran = CliRunner().invoke(main, ["simulate", str(suite), "--target", url, "--concurrency", "2", "--report", str(tmp_path / "out")])
    assert ran.exit_code == 1, ran.output  # "seven" is not what the hours line says
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(c["name"], c["passed"]) for c in results["cases"]] == [("opening hours", True), ("expects seven", False)]
    refused = CliRunner().invoke(main, ["simulate", str(suite), "--agent", str(EXAMPLES / "order-desk"), "--concurrency", "2"])
    assert refused.exit_code == 2 and "--concurrency is for --target" in refused.output
