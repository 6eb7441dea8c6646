"""The agent practices by voice, end to end: the example agent folders served by a real server on a
real socket, with the embedded engines (Silero VAD, moonshine STT, Piper TTS), and a caller whose
speech is rendered by espeak-ng and streamed in real time over the native WebSocket (and once over
a Twilio Media Stream). The tests assert on the events the caller's client received, on the call
traces, and on what the agent's tools and store left behind.

Caller phrases were picked for what moonshine hears from espeak, measured over many renderings
(espeak-ng's output differs slightly from one rendering to the next, and moonshine is sensitive
to where a segment starts): "the number is twelve thirty four" comes back as 1234 every time,
while "four five six seven" comes back as "for five, six, seven" and "where is my order twelve
thirty four" now and then as "twelve, thirty-four" (read as 12). Each test uses its own caller
number, so the tests share one server per agent without sharing callers' memory.
"""

from __future__ import annotations

import asyncio
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from callwright import events as ev
from callwright.agent.values import parse_value
from callwright.client import CallClient
from callwright.engines.registry import build_stt
from callwright.observe.trace import read_trace
from callwright.settings import Settings
from callwright.store import open_store
from callwright.testing.server import running_server
from callwright.testing.voice import Line, caller_says
from callwright.transport.twilio_peer import TwilioPeer

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"
SAM = "+14155550123"  # the order desk's lookup hook knows him
ROBERT = "+14155550199"  # recovery-line patients its lookup hook knows (short greeting)
DANIEL = "+14155550177"
NURSE_LINE = "+15550100200"  # the recovery line's transfer_to
TURN_TIMEOUT = 60.0  # a whole turn (speech, endpoint, STT, tools, TTS, playout) on a slow 2-core machine


# ------------------------------------------------------------------------------------------ servers
@dataclass(frozen=True)
class Served:
    """A live server for one agent folder, and the folder its state lives in."""

    base: str
    data: Path
    store_url: str

    def ws(self, path: str = "/ws") -> str:
        return self.base.replace("http://", "ws://") + path

    def trace(self, call_id: str) -> list[Any]:
        return read_trace(self.data / "traces" / f"{call_id}.jsonl")


def serve(agent: str, data: Path) -> Iterator[Served]:
    # Empty store, queue, Redis and link secret settings (whatever the environment says): the
    # defaults put the SQLite store, the job queue and the generated link secret under ``data``.
    settings = Settings.load(
        port=0, agent=str(EXAMPLES / agent), data_dir=str(data), trace_dir=str(data / "traces"),
        store_url="", queue_url="", redis_url="", link_secret="",
    )  # fmt: skip
    assert settings.resolved_store_url() == f"sqlite:///{data}/callwright.db"
    assert settings.resolved_queue_url() == f"sqlite:///{data}/jobs.db"
    try:
        with running_server(settings) as base:
            yield Served(base, data, settings.resolved_store_url())
    finally:
        finish_abandoned_work()


def finish_abandoned_work(timeout: float = 30.0) -> None:
    """Wait for inference the stopped server's calls abandoned.

    The engines run inference in anyio worker threads and abandon it when its caller is cancelled
    (a hang-up cuts a sentence being synthesised); the work finishes in the background. The live
    server runs in a daemon thread, so its workers are daemons too, and one still inside
    onnxruntime when the interpreter exits is torn down through C++ frames: the process aborts
    ("terminate called without an active exception") after the tests passed. The workers of a
    stopped server's (closed) event loop finish their last item and stop; join them.
    """
    for thread in threading.enumerate():
        loop = getattr(thread, "loop", None)
        if thread.daemon and isinstance(loop, asyncio.AbstractEventLoop) and loop.is_closed():
            thread.join(timeout)


@pytest.fixture(scope="module")
def order_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve("order-desk", tmp_path_factory.mktemp("order-desk"))


@pytest.fixture(scope="module")
def recovery_line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # The nurse booking takes 4 s instead of 2 (the example's own knob, read when tools.py loads):
    # the filler starts 0.7 s in, and a barge-in needs about a second of caller speech plus its
    # transcription, so on a slow machine 2 s leaves too little of the booking to talk over.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RECOVERY_LINE_BOOKING_SECONDS", "4")
        yield from serve("recovery-line", tmp_path_factory.mktemp("recovery-line"))


# ------------------------------------------------------------------------------------------ caller
_whisper: Any = None


async def whisper(pcm: np.ndarray, rate: int) -> str:
    """An independent judge of what the agent's audio says: Whisper, not the agent's own STT."""
    global _whisper
    if _whisper is None:
        _whisper = build_stt("whisper")
    text = (await _whisper.transcribe(pcm, rate)).text
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower())


def audio_seconds(line: Line, start: float, end: float) -> float:
    """Seconds of agent audio that reached the client between two arrival times."""
    samples = sum(pcm.size for t, pcm in line.client.received.audio if start <= t < end)
    return samples / line.client.rate


# ------------------------------------------------------------------------------------------ 1. filler
async def test_a_slow_tool_is_covered_by_a_filler_that_is_heard_before_its_result(order_desk: Served) -> None:
    """order_status takes 1.5 s and has slow_after 0.3 s: the caller hears "Let me pull up that
    order." while it runs, and the order's status after."""
    async with CallClient(order_desk.ws(), caller="+14155550142") as client:
        line = Line(client)
        await line.greeted()
        asked = await line.say("hi, where is my order? the number is twelve thirty four")
        await line.hang_up()
    t = asked.turn
    (called,) = line.of(ev.ToolCalled, turn=t)
    (filler,) = line.of(ev.ToolProgress, turn=t, kind="filler")
    (result,) = line.of(ev.ToolResult, turn=t)
    texts = line.texts(t)
    assert called.name == "order_status" and called.arguments == {"order_number": "1234"}, line.story()
    assert result.status == "ok" and result.result["status"] == "being packed", line.story()
    answer = next(e for e in line.of(ev.AgentText, turn=t) if "being packed" in e.text)
    filler_text = next(
        e for e in line.of(ev.AgentText, turn=t) if e.text == filler.text == "Let me pull up that order."
    )
    assert texts.index(filler_text.text) < texts.index(answer.text)

    # On the call's clock: the filler waited for slow_after, and came before there was any result.
    assert called.t_ms + 250 <= filler.t_ms < result.t_ms < answer.t_ms
    # At the caller: the filler's words and audio arrived while the tool was still working.
    assert line.at(filler_text) < line.at(result) < line.at(answer)
    filler_audio_at = client.received.first_audio_after(line.at(filler_text))
    assert filler_audio_at is not None and filler_audio_at < line.at(result)
    assert audio_seconds(line, line.at(filler_text), line.at(result)) >= 0.3  # not a click: speech
    assert not asked.reply.interrupted and "being packed" in asked.reply.text

    # What the caller heard, judged by Whisper: the filler, then the status.
    heard = await whisper(client.received.agent_audio(after=asked.spoke_until), 16000)
    assert "pull up" in heard and "packed" in heard and heard.index("pull up") < heard.index("packed"), heard


# ------------------------------------------------------------------------------------------ 2. read back
async def test_a_value_heard_with_low_confidence_is_read_back_and_kept_on_yes(order_desk: Served) -> None:
    """The order desk's address field has ``confirm_below: 0.85``. Moonshine hears espeak's "twelve
    Maple Street" with a confidence of 0.61 to 0.81 (measured: 48 renderings offline, 6 on live
    calls at 0.66 to 0.74), and not always as "Maple Street" ("twelve maple-streets", "twelve
    maples, three"), so the real folder exercises the low-confidence path with real recognition.
    The value is read back as heard, and kept only once the caller says yes."""
    async with CallClient(order_desk.ws(), caller="+14155550143") as client:
        line = Line(client)
        await line.greeted()
        wants = await line.say("can I buy two loaves of sourdough bread")
        assert line.of(ev.FormField, since=wants.start, field="address", status="asked"), line.story()
        address = await line.say("twelve Maple Street")
        if "didn't catch" in " ".join(line.texts(address.turn)):
            # the recogniser lost the number ("Dwell maple-street", seen once in CI) and the agent asked
            # again, rightly: the caller says it again, as a person would
            address = await line.say("twelve Maple Street")
        readback = line.texts(address.turn)
        yes = await line.say("yes it is")
        await line.hang_up()

    confidence = address.heard.confidence
    assert confidence is not None and confidence < 0.85, line.story()  # real recognition, below the field's threshold
    parsed = parse_value("address", address.heard.text, now=datetime.now(UTC), region="US")
    assert parsed is not None
    # The recogniser sometimes cuts the address in two turns ("twelve maples", "three"): the first
    # is the one whose confidence and text are read here, and it must be read back, not kept.
    confirms = line.of(ev.FormField, since=address.start, until=yes.start, field="address", status="confirm")
    assert confirms and not line.of(ev.FormField, since=address.start, until=yes.start, field="address", status="filled"), line.story()
    confirm = confirms[0]
    assert confirm.value == parsed.text, line.story()
    assert confirm.confidence == pytest.approx(confidence, abs=0.001)
    assert readback[0].startswith("I heard") and readback[-1] == "Is that right?", readback
    assert parsed.spoken.split()[-1].strip(",.") in readback[0]  # what was read back is the value heard
    # Kept only after the yes: nothing was filled before it, and the yes confirmed the value read back.
    assert not line.of(ev.FormField, field="address", status="filled")
    confirmed = line.of(ev.FormField, since=yes.start, field="address")
    assert [c.status for c in confirmed] == ["confirmed"], line.story()
    assert confirmed[0].value == line.of(ev.FormField, since=address.start, until=yes.start, field="address", status="confirm")[-1].value
    assert "delivered to" in yes.reply.text and yes.reply.text.endswith("Shall I place the order?"), line.story()


# ------------------------------------------------------------------------------------------ 3. barge-in
async def test_talking_over_a_booking_leaves_exactly_one_booking(recovery_line: Served) -> None:
    """book_nurse_call has side effects: it finishes when the caller talks over the agent's filler,
    and the same booking asked for again in the call replays the stored result instead of booking
    twice. One booking in the nurse rota, one SMS, one tool.result per tool.call."""
    from importlib.util import module_from_spec, spec_from_file_location

    async with CallClient(recovery_line.ws(), caller=ROBERT) as client:
        line = Line(client)
        await line.greeted()
        await line.say("I want to book a call with a nurse")
        when = await line.answer("on Friday at three p m", field="when")
        assert line.texts(when.turn)[0].startswith("I heard") and "Friday" in line.texts(when.turn)[0], line.story()  # high stakes: read back
        await line.say("yes it is")

        # The reason starts the booking, and a filler covers it. Over the filler, the caller asks again.
        def filler(e: Any) -> bool:
            return isinstance(e, ev.AgentText) and e.text == "I'm booking that with the nurse team now."

        # The reason is typed: moonshine hears espeak's short reasons with a confidence under the
        # field's 0.8, and a reason heard that unsure is (rightly) read back first.
        told = await line.type("about driving again", until=filler)
        start = told.start
        (called,) = line.of(ev.ToolCalled, since=start)
        await line.until_audio_after(line.at(told.reply))
        await client.silence(0.2)  # a moment into the filler
        await client.speak(caller_says("I want to book a call with a nurse"))
        barge = await line.listen_for(lambda e: isinstance(e, ev.BargeIn), since=start)
        again = await line.listen_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == called.turn + 1, since=start)

        # Asked again, the caller gives the same time and reason (typed: the voice steps came before).
        assert line.of(ev.FormField, since=line.index(barge), field="when", status="asked"), line.story()
        when_again = await line.type("on Friday at three p m")
        assert line.of(ev.FormField, since=when_again.start, field="when", status="confirm"), line.story()
        await line.type("yes")
        (reason,) = line.of(ev.FormField, since=start, field="reason", status="filled")
        booked = await line.type(reason.value, until=lambda e: isinstance(e, ev.MessageSent))
        await line.hang_up()  # the confirmation need not play to the end

    calls = line.of(ev.ToolCalled, name="book_nurse_call")
    results = line.of(ev.ToolResult, name="book_nurse_call")
    # The caller's words stopped the agent while the booking was running.
    cut = line.of(ev.AgentTurn, turn=called.turn)
    assert barge.turn == called.turn and cut and cut[0].interrupted, line.story()
    assert cut[0].planned_text.endswith("nurse team now.") and barge.heard_ms > 0  # it was speaking the filler
    assert called.t_ms < barge.t_ms < results[0].t_ms, line.story()
    assert len(calls) == 2 and calls[0].idempotency_key == calls[1].idempotency_key, line.story()
    assert sorted(r.call for r in results) == sorted(c.call for c in calls)  # exactly one result per call
    assert [(r.status, r.replayed) for r in results] == [("ok", False), ("ok", True)], line.story()
    assert "By the way" in " ".join(line.texts(again.turn))  # the result that finished after the barge-in is told
    assert any("booked a nurse to call you" in text for text in line.texts(booked.turn))

    spec = spec_from_file_location("recovery_line_tools_under_test", EXAMPLES / "recovery-line" / "tools.py")
    assert spec is not None and spec.loader is not None
    tools = module_from_spec(spec)
    spec.loader.exec_module(tools)
    rota = tools.bookings(recovery_line.data / "agents" / "recovery-line")
    assert [phone for phone, _, _ in rota] == [ROBERT], rota
    assert rota[0][1].startswith(results[0].result["when"][:13])
    store = await open_store(recovery_line.store_url)
    try:
        texts = [m for m in await store.messages(ROBERT) if m.purpose != "form_link"]
    finally:
        await store.close()
    assert len(texts) == 1 and "a nurse will call you" in texts[0].body, texts


# ------------------------------------------------------------------------------------------ 4. memory
async def test_a_returning_caller_is_greeted_by_name_and_asked_about_the_last_order(order_desk: Served) -> None:
    """Sam orders in one call (a background job places it and texts him); calling again, he is
    greeted by name and asked about that order, and "yes" runs the follow-up (latest_order)."""
    async with CallClient(order_desk.ws(), caller=SAM) as client:
        first = Line(client)
        await first.greeted()
        await first.say("can I buy two loaves of sourdough bread")
        await first.type("12 Oak Street")  # typed: read-back by voice is the previous test's subject
        placed = await first.say("yes it is", until=lambda e: isinstance(e, ev.JobQueued))  # "Shall I place it?"
        ended = await first.hang_up()
    assert first.of(ev.JobQueued, since=placed.start, name="place_order"), first.story()
    (opened,) = first.of(ev.MemoryUpdated, action="issue_opened")
    assert ended.reason == "hangup" and opened.detail.startswith("your order of 2 "), opened
    product = opened.detail.removeprefix("your order of 2 ")  # "loaves sourdough bread", as recognised

    # The background job places the order and texts Sam; wait for the text.
    store = await open_store(order_desk.store_url)
    try:
        with anyio.fail_after(60):
            while not [m for m in await store.messages(SAM) if m.purpose != "form_link"]:
                await anyio.sleep(0.2)
    finally:
        await store.close()

    async with CallClient(order_desk.ws(), caller=SAM) as client:
        second = Line(client)
        greeting = " ".join(await second.greeted())
        greeting_audio = client.received.agent_audio()
        recalled = await second.say("yes it is", until=lambda e: isinstance(e, ev.AgentText) and "on its way" in e.text)
        await second.hang_up()
    (who,) = second.of(ev.CallerIdentified)
    assert who.name == "Sam" and who.calls_before == 1
    assert (
        greeting.startswith("Hi Sam")
        and f"Are you calling about your order of two {product} from earlier today?" in greeting
    ), greeting
    heard = await whisper(greeting_audio, 16000)
    assert "sam" in heard.split() and "order" in heard and "earlier today" in heard, heard
    assert second.of(ev.MemoryUpdated, action="issue_closed")
    (called,) = second.of(ev.ToolCalled, since=recalled.start)
    (result,) = second.of(ev.ToolResult, since=recalled.start)
    assert called.name == "latest_order" and result.status == "ok"
    # The order the job placed, found by Sam's number: the catalogue item, without the container
    # Sam named ("two loaves of sourdough bread" is read back as said and placed as "sourdough bread").
    item = re.sub(r"^(?:loaf|loaves)(?: of)? ", "", product)
    assert f"of two {item}" in recalled.reply.text, second.story()
    store = await open_store(order_desk.store_url)
    try:
        sms = [m for m in await store.messages(SAM) if m.purpose != "form_link"]
    finally:
        await store.close()
    assert len(sms) == 1 and "is confirmed" in sms[0].body, sms  # texted exactly once


# ------------------------------------------------------------------------------------------ 5. scope
async def test_a_medication_question_is_refused_and_handed_to_the_nurse(recovery_line: Served) -> None:
    """The recovery line's scope action is ``escalate``: the refusal is spoken, then the call is
    transferred to the on-call nurse, and it ends with the reason ``transfer``."""
    async with CallClient(recovery_line.ws(), caller=DANIEL) as client:
        line = Line(client)
        await line.greeted()
        asked = await line.say("should I change the dose of my medication")
        ended = await client.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=30)
        call_id = client.started.call_id if client.started else ""
    (intent,) = line.of(ev.IntentRecognized, turn=asked.turn)
    assert intent.name == "out_of_scope", line.story()
    texts = line.texts(asked.turn)
    refusal = next(
        e for e in line.of(ev.AgentText, turn=asked.turn) if e.text.startswith("I can't advise on medication")
    )
    (transfer,) = line.of(ev.Transfer)
    assert transfer.to == NURSE_LINE and transfer.mode == "transfer" and transfer.reason == "out of scope"
    assert refusal.t_ms <= transfer.t_ms and texts[0] == refusal.text, texts
    # The caller heard the whole reply (refusal and hand-over line) before the line was handed over.
    assert not asked.reply.interrupted and asked.reply.text.startswith("I can't advise on medication")
    assert "putting you through" in asked.reply.text
    assert audio_seconds(line, line.at(refusal), line.at(ended)) * 1000 >= asked.reply.audio_ms - 100
    assert ended.reason == "transfer" and asked.reply.t_ms <= ended.t_ms
    trace = recovery_line.trace(call_id)
    assert any(isinstance(e, ev.Transfer) and e.to == NURSE_LINE for e in trace)
    assert isinstance(trace[-1], ev.CallEnded) and trace[-1].reason == "transfer"


async def test_over_twilio_the_out_of_scope_transfer_dials_the_nurse(recovery_line: Served) -> None:
    """The same escalation on a phone call: the stream closes once the reply has played, and the
    <Connect action> URL answers Twilio with <Dial> to the nurse line. The transfer is warm: the
    summary was made and recorded before the stream closed, so when the nurse picks up, Twilio's
    request to the <Number url> gets it as <Say> (who is calling, what they asked, what was done)."""
    peer = await TwilioPeer.answer(f"{recovery_line.base}/twilio/voice", caller=DANIEL)
    async with peer:
        with anyio.fail_after(TURN_TIMEOUT):  # Daniel's one-sentence greeting plays out: its mark comes back
            while not any(name.startswith("0:") for name in peer.log.marks_echoed):
                await peer.silence(0.1)
        await peer.silence(0.3)
        await peer.speak(caller_says("can I stop taking my tablets", 8000))
        with anyio.fail_after(TURN_TIMEOUT):
            while not peer.closed.is_set():
                await peer.silence(0.1)  # plays what the server sent, echoing its marks
        after = await peer.follow_action()
        nurse = await peer.answer_dial(after)  # the nurse picks up: Twilio fetches the whisper
    dial = ET.fromstring(after)[0]
    assert dial.tag == "Dial" and [(n.tag, n.text) for n in dial] == [("Number", NURSE_LINE)], after
    (path,) = [p for p in (recovery_line.data / "traces").glob("*.jsonl") if '"transport":"twilio"' in p.read_text()]
    trace = read_trace(path)
    refusal = next(
        e for e in trace if isinstance(e, ev.AgentText) and e.text.startswith("I can't advise on medication")
    )
    heard = next(e for e in trace if isinstance(e, ev.TranscriptFinal) and e.turn == 1)
    transfer = next(e for e in trace if isinstance(e, ev.Transfer))
    assert refusal.t_ms <= transfer.t_ms and transfer.to == NURSE_LINE
    assert isinstance(trace[-1], ev.CallEnded) and trace[-1].reason == "transfer"
    # The whisper: made on the call (in its trace before the call ended), said to the nurse alone.
    assert transfer.summary == (
        f'Transferred call from Daniel, on 415-555-0177. Reason: out of scope. They said: "{heard.text.rstrip(".!?")}". '
        "Done so far: nothing yet."
    ), transfer.summary
    assert "tablets" in heard.text.lower(), heard.text  # what the caller asked is in it, as the recogniser heard it
    assert nurse.number == NURSE_LINE and nurse.said == [transfer.summary], nurse.whisper
    # The phone played the refusal before the hand-over (8 kHz μ-law, judged by Whisper).
    heard = await whisper(np.concatenate(peer.log.played), 8000)
    assert "medication" in heard and "nurse" in heard, heard


# ------------------------------------------------------------------------------------------ 6. style
async def test_an_angry_caller_is_answered_in_the_calm_style(order_desk: Served) -> None:
    """Anger in the caller's words (and voice) gives the calm style: a slower, slightly lower voice
    from the first word of the reply. (Not asserted: that the calm audio is measurably slower. At
    rate 0.92 and pitch 0.97 Piper's speech comes out only about 4 % longer, within its own
    run-to-run duration spread of several per cent, so a comparison would be flaky.)"""
    async with CallClient(order_desk.ws(), caller="+14155550144") as client:
        line = Line(client)
        await line.greeted()
        angry = await line.say("This is ridiculous, my order is two hours late and nobody answers!")
        await line.hang_up()
    (emotion,) = line.of(ev.EmotionEstimated, turn=angry.turn)
    (style,) = line.of(ev.StyleChosen, turn=angry.turn)
    assert emotion.label in ("angry", "upset") and emotion.valence < 0, line.story()
    assert style.style == "calm" and style.rate < 1.0 and style.pitch <= 1.0
    first_text = line.of(ev.AgentText, turn=angry.turn)[0]
    assert style.t_ms <= first_text.t_ms  # the style was set before anything of the reply was spoken
    assert not angry.reply.interrupted and angry.reply.audio_ms > 0


# ------------------------------------------------------------------------------------------ 7. safety and mishearing, by phone
async def twilio_call(served: Served, caller: str, says: str, *, handed_over: bool = False) -> tuple[TwilioPeer, list[Any], str]:
    """A phone call over Twilio's Media Streams: the greeting plays out, the caller says ``says``
    (espeak at 8 kHz, μ-law), the phone plays what comes back until the server closes the stream
    (``handed_over``) or the agent's reply to the turn has played. Returns the peer, the call's trace and what the
    phone played after the caller spoke, as Whisper heard it."""
    peer = await TwilioPeer.answer(f"{served.base}/twilio/voice", caller=caller)
    async with peer:
        with anyio.fail_after(TURN_TIMEOUT):
            while not any(name.startswith("0:") for name in peer.log.marks_echoed):
                await peer.silence(0.1)
            # the whole greeting has played, not only its first sentence: half a second of silence
            while not peer.closed.is_set() and any(frame.any() for frame in peer.log.played[-25:]):
                await peer.silence(0.1)
        await peer.silence(0.3)
        played_before = len(peer.log.played)
        await peer.speak(caller_says(says, 8000))
        # until the first sentence of the reply to turn 1 has played (its mark "1:0"; "1:0:<samples>"
        # after the first frame only times voice_to_voice) or the line is handed over
        with anyio.move_on_after(TURN_TIMEOUT):
            while not peer.closed.is_set() and (handed_over or not any(name.startswith("1:") and name.count(":") == 1 for name in peer.log.marks_echoed)):
                await peer.silence(0.1)
        if handed_over and not peer.closed.is_set():
            await peer.stop()  # the assertions below say what happened instead
        await peer.silence(1.5)
        heard = await whisper(np.concatenate(peer.log.played[played_before:]), 8000)
    with anyio.fail_after(15):  # the server writes the trace's last record once the call has ended
        while True:
            paths = [p for p in (served.data / "traces").glob("*.jsonl") if f'"caller":"{caller}"' in p.read_text()]
            if paths and '"type":"call.ended"' in paths[0].read_text():
                break
            await anyio.sleep(0.1)
    return peer, read_trace(paths[0]), heard


async def test_by_phone_a_red_flag_gets_emergency_advice_first_then_the_nurse(recovery_line: Served) -> None:
    """Spoken over an 8 kHz phone line, real recognition: the red flag is acted on in code, before any
    brain. The first sentence the phone plays is the emergency advice, then the call goes to the nurse."""
    # Measured offline through 8 kHz μ-law at three segment offsets, this phrase keeps "catch my
    # breath" every time; "my chest feels really tight and I can't breathe" once came back as "... I
    # can't dream" (the recogniser's, not the agent's, limit: a phone line loses the "th").
    peer, trace, heard = await twilio_call(
        recovery_line, "+14155550161", "my chest hurts and I can't catch my breath", handed_over=True
    )
    after = await peer.follow_action()
    final = next(e for e in trace if isinstance(e, ev.TranscriptFinal) and e.turn == 1)
    (flag,) = [e for e in trace if isinstance(e, ev.SafetyFlag)]
    assert flag.rule == "chest_or_breathing" and flag.level == "emergency", (final.text, flag)
    first = next(e for e in trace if isinstance(e, ev.AgentText) and e.turn == 1)
    assert first.text.startswith("Please hang up and call emergency services"), first.text
    (transfer,) = [e for e in trace if isinstance(e, ev.Transfer)]
    assert transfer.to == NURSE_LINE and first.t_ms <= transfer.t_ms
    assert not [e for e in trace if isinstance(e, (ev.KnowledgeCited, ev.ToolCalled, ev.IntentRecognized))]
    assert isinstance(trace[-1], ev.CallEnded) and trace[-1].reason == "transfer"
    dial = ET.fromstring(after)[0]
    assert dial.tag == "Dial" and [(n.tag, n.text) for n in dial] == [("Number", NURSE_LINE)], after
    assert "emergency" in heard and heard.index("emergency") < heard.index("nurse"), heard


async def test_by_phone_a_turn_heard_with_low_confidence_is_asked_again(recovery_line: Served) -> None:
    """Mumbled words on a phone line come back from the recogniser as something else, with a low
    confidence (measured offline: 0.28 to 0.53 at 8 kHz for this phrase). The agent asks again; it
    does not answer a guess from the documents, call a tool or offer a transfer."""
    _, trace, heard = await twilio_call(recovery_line, "+14155550162", "orp wendle mib carfoo")
    final = next(e for e in trace if isinstance(e, ev.TranscriptFinal) and e.turn == 1)
    assert final.confidence is not None and final.confidence < 0.6, final  # the premise: a poor recognition
    (misheard,) = [e for e in trace if isinstance(e, ev.Misheard)]
    assert misheard.turn == 1 and misheard.attempt == 1 and misheard.text == final.text
    reply = next(e for e in trace if isinstance(e, ev.AgentTurn) and e.turn == 1)
    assert reply.text == "Sorry, I didn't catch that. Could you say it again?", reply.text
    assert not [e for e in trace if isinstance(e, (ev.KnowledgeCited, ev.ToolCalled, ev.Transfer, ev.IntentRecognized))]
    assert "catch that" in heard and "say it again" in heard, heard
