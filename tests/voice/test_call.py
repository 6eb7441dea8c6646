"""The Call's behaviour, in-process with fake engines (fast, and exact on a virtual clock).

Only some of it is also checked with the real embedded engines over a real socket, in tests/e2e:
a spoken turn, barge-in, backchannels and echo, and a Twilio Media Stream (``test_voice_e2e.py``),
and the example agents by voice (``test_agent_voice.py``). The rest is tested here only. In
particular the leak test (many calls leave no tasks or memory behind) and the 25 calls in a row of
``tests/e2e/test_robustness.py`` use fake engines: with real engines a hang-up abandons inference
that finishes in a worker thread after the call has ended (``finish_abandoned_work`` in
``test_agent_voice.py``), and no test counts what real-engine calls leave behind."""

from __future__ import annotations

import gc
import tracemalloc

import anyio
import numpy as np
import pytest

from callwright import events as ev
from callwright.agent.base import Agent, Context, Hangup, Say, Turn
from callwright.agent.scripted import front_desk
from callwright.agent.shaping import speakable
from callwright.clock import SteppedClock
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.engines.resilient import RetryPolicy
from callwright.errors import EngineError
from callwright.testing import LocalCall, TextCall, silence, tone
from callwright.transport.memory import MemoryIO
from callwright.voice.call import BargeInOptions, Call, CallOptions, Engines

LONG = "Happy to walk you through it. " + " ".join(f"Sentence number {i} tells you one more thing about the menu." for i in range(8))


class Recorder(Agent):
    """An agent that replies with scripted texts and remembers the context it was given each turn."""

    name = "recorder"

    def __init__(self, replies: list[str], greeting: str | None = None) -> None:
        self.replies = replies
        self.greeting_text = greeting
        self.seen: list[list[tuple[str, str]]] = []

    def greeting(self, context: Context) -> str | None:
        return self.greeting_text

    async def respond(self, turn: Turn, context: Context):  # type: ignore[no-untyped-def]
        self.seen.append([(m.role, m.content) for m in context.messages])
        reply = self.replies.pop(0) if self.replies else "Okay."
        for word in reply.split(" "):
            yield Say(word + " ")
        if reply.startswith("Bye"):
            yield Hangup()


def engines(script, **kw) -> Engines:  # type: ignore[no-untyped-def]
    return Engines(FakeStt(script), FakeTts(ms_per_char=kw.pop("ms_per_char", 40)), EnergyVad(), **kw)


async def test_turns_are_the_same_when_replayed_faster_than_real_time() -> None:
    audio = np.concatenate([silence(0.3), tone(0.8), silence(0.9), tone(0.5), silence(0.2), tone(0.4), silence(1.0)])
    results = []
    for realtime in (True, False):
        agent = Recorder(["One.", "Two."])
        # Barge-in is off: whether the agent's (wall-clock) reply overlaps the caller's next turn depends on
        # the replay speed; what is under test is that listening itself runs on audio time.
        options = CallOptions(barge_in=BargeInOptions(enabled=False))
        async with LocalCall(agent, engines(["first", "second"]), options=options) as c:
            await c.speak(audio, realtime=realtime)
            await c.wait_for(lambda e: isinstance(e, ev.TranscriptFinal) and e.turn == 2)
            results.append([(e.audio_start_ms, e.audio_end_ms) for e in c.events(ev.TranscriptFinal)])
    assert results[0] == results[1]
    assert len(results[0]) == 2  # the 0.2 s pause inside the second turn does not end it


async def test_barge_in_stops_audio_at_once_and_context_holds_what_was_heard() -> None:
    agent = Recorder([LONG, "Sure, what would you like?"])
    stt = engines(["tell me about the menu", "wait I want to order", "wait I want to order"])
    async with LocalCall(agent, stt, clock=SteppedClock()) as c:  # virtual time: exact, repeatable
        await c.speak(np.concatenate([tone(0.8), silence(0.8)]))
        await c.wait_for(lambda e: isinstance(e, ev.Latency) and e.stage == "first_audio_sent")
        await c.speak(silence(1.0))
        await c.speak(np.concatenate([tone(1.0), silence(0.8)]))
        barge = await c.wait_for(lambda e: isinstance(e, ev.BargeIn))
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 2)
        cut = next(e for e in c.events(ev.AgentTurn) if e.turn == 1)
        assert cut.interrupted
        assert cut.text == barge.heard_text
        spoken = speakable(LONG)  # what was synthesised: numbers read as words
        assert 0 < len(cut.text) < len(spoken) and spoken.startswith(cut.text.rstrip("."))
        # nothing of turn 1 left the server after the clear
        log = c.io.log
        clear_at = log.index(("clear", None))
        first_turn2_text = next(i for i, item in enumerate(log) if item == ("event", "agent.text") and i > clear_at)
        assert all(kind != "audio" for kind, _ in log[clear_at:first_turn2_text])
        # the next turn's context holds the cut version only
        assert agent.seen[1][-2] == ("assistant", cut.text)
        assert agent.seen[1][-1] == ("user", "wait I want to order")
        # heard is the playback cursor: what was sent before the clear, less the lead the client
        # buffers (no marks confirm playback here); the caller spoke over at least a second of it
        sent_ms = sum(n for kind, n in log[:clear_at] if kind == "audio") * 1000 / c.io.output_rate
        assert barge.heard_ms == sent_ms - CallOptions().lead_ms
        assert barge.heard_ms >= 1000


@pytest.mark.parametrize("backchannel", ["mm-hmm", "okay yeah", "M. M. M.", "Mmm, uh-huh."])  # as moonshine writes a hum
async def test_backchannels_and_short_sounds_do_not_interrupt(backchannel: str) -> None:
    agent = Recorder([LONG])
    async with LocalCall(agent, engines(["tell me about the menu", backchannel], ms_per_char=15)) as c:
        await c.speak(np.concatenate([tone(0.8), silence(0.8)]))
        await c.wait_for(lambda e: isinstance(e, ev.Latency) and e.stage == "first_audio_sent")
        await c.speak(np.concatenate([silence(0.5), tone(0.25), silence(0.8)]))  # a short noise
        await c.speak(np.concatenate([tone(0.7), silence(0.8)]))  # long enough to check: a backchannel
        turn = await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=30)
        assert not turn.interrupted
        assert not c.events(ev.BargeIn)
        reasons = [e.reason for e in c.events(ev.SpeechIgnored)]
        assert reasons[:2] == ["short", "backchannel"] and set(reasons) == {"short", "backchannel"}


async def test_agent_echo_does_not_interrupt() -> None:
    agent = Recorder([LONG])
    async with LocalCall(agent, engines(["tell me about the menu"], ms_per_char=15)) as c:
        await c.speak(np.concatenate([tone(0.8), silence(0.8)]))
        await c.wait_for(lambda e: isinstance(e, ev.Latency) and e.stage == "first_audio_sent")
        # speakerphone: the agent's audio plays in real time and leaks back 200 ms later at 40 %
        played: list[np.ndarray] = []
        position = 0
        for _ in range(150):
            out = c.io.received_audio()
            chunk = out[position : position + 320]
            position += chunk.size
            played.append(np.pad(chunk, (0, 320 - chunk.size)))
            mic = (played[-11] * 0.4).astype(np.int16) if len(played) > 10 else np.zeros(320, dtype=np.int16)
            await c.speak(mic)
        turn = await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=30)
        assert not turn.interrupted and not c.events(ev.BargeIn)
        assert "echo" in [e.reason for e in c.events(ev.SpeechIgnored)]


async def test_engine_failure_speaks_a_fallback_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    agent = Recorder(["Our hours are nine to five."])
    stt = FakeStt(["what are your hours"], fail_times=1, retryable=False)
    e = Engines(stt, FakeTts(ms_per_char=20), EnergyVad(), policy=RetryPolicy(retries=0))
    async with LocalCall(agent, e) as c:
        await c.speak(np.concatenate([tone(0.6), silence(0.8)]))
        fallback = await c.wait_for(lambda x: isinstance(x, ev.AgentTurn) and x.turn == 1)
        assert fallback.text == CallOptions().fallback_line
        assert any(x.stage in ("engine", "stt") for x in c.events(ev.ErrorEvent))
        # the error names where it happened: this call, and the stage
        assert f"call {c.call.id} stt: " in caplog.text and "scripted failure 1 of 1" in caplog.text, caplog.text
        await c.speak(np.concatenate([tone(0.6), silence(0.8)]))
        answer = await c.wait_for(lambda x: isinstance(x, ev.AgentTurn) and x.turn == 2)
        assert answer.text == "Our hours are nine to five."


async def test_retryable_failure_is_retried_and_recorded() -> None:
    stt = FakeStt(["hello"], fail_times=1, retryable=True)
    e = Engines(stt, FakeTts(ms_per_char=20), EnergyVad(), policy=RetryPolicy(retries=2, backoff=0.01))
    async with LocalCall(Recorder(["Hi there."]), e) as c:
        await c.speak(np.concatenate([tone(0.6), silence(0.8)]))
        final = await c.wait_for(lambda x: isinstance(x, ev.TranscriptFinal))
        assert final.text == "hello" and stt.calls == 2
        assert [x.retryable for x in c.events(ev.ErrorEvent)] == [True]


async def test_a_wrong_value_for_an_event_field_fails_at_the_caller_and_the_call_goes_on() -> None:
    """Transport, end reason and turn source are Literal fields of the call's events: a value that is
    none of them raises where it is passed, before the call changes, not when the event is built
    (for the end reason that was inside run()'s shielded cleanup, and the call ended with no
    call.ended)."""
    with pytest.raises(ValueError, match=r"^Call: transport 'sip' is not one of: websocket, twilio, local$"):
        Call(Recorder([]), engines([]), MemoryIO(), transport="sip")  # type: ignore[arg-type]
    async with LocalCall(Recorder(["Sure thing."]), engines([]), clock=SteppedClock()) as c:
        with pytest.raises(ValueError, match=r"^Call.hangup: reason 'caller' is not one of: hangup, agent_hangup, "):
            c.call.hangup("caller")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^Call.push_text: source 'sms' is not one of: speech, text, dtmf, web$"):
            c.call.push_text("what are your hours", source="sms")  # type: ignore[arg-type]
        assert c.call.end_reason is None and not c.call.ending
        c.call.push_text("what are your hours", source="dtmf")
        turn = await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1)
        assert turn.text == "Sure thing." and c.events(ev.TranscriptFinal)[0].source == "dtmf"
        c.call.hangup("max_duration")
        ended = await c.wait_ended()
    assert ended.reason == "max_duration" and c.events(ev.CallEnded) == [ended]


async def test_agent_hangup_and_idle_timeout_end_the_call() -> None:
    async with LocalCall(Recorder(["Bye now."]), engines(["bye"]), clock=SteppedClock()) as c:
        await c.speak(np.concatenate([tone(0.5), silence(0.8)]))
        ended = await c.wait_ended()
        assert ended.reason == "agent_hangup"
    # The timers run on the call's clock: each call ends at exactly its limit.
    async with LocalCall(Recorder([]), engines([]), options=CallOptions(idle_timeout_s=0.5), clock=SteppedClock()) as c:
        ended = await c.wait_ended()
        assert (ended.reason, ended.duration_ms) == ("idle_timeout", 500.0)
    options = CallOptions(max_duration_s=0.75)
    async with LocalCall(Recorder([]), engines([]), options=options, clock=SteppedClock()) as c:
        await c.speak(tone(1.0))  # the caller is still talking: it is not idle
        ended = await c.wait_ended()
        assert (ended.reason, ended.duration_ms) == ("max_duration", 750.0)


async def test_many_calls_leave_no_tasks_or_memory_behind() -> None:
    def live_tasks() -> int:
        import asyncio

        return len(asyncio.all_tasks())

    async def one_call() -> None:
        async with LocalCall(front_desk(), engines(["what are your opening hours"], ms_per_char=2)) as c:
            await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)  # the greeting
            await c.speak(np.concatenate([tone(0.3), silence(0.7)]), realtime=False)
            await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1)

    for _ in range(5):
        await one_call()  # warm up caches
    gc.collect()
    tasks_before = live_tasks()
    tracemalloc.start()
    await one_call()
    gc.collect()
    base, _ = tracemalloc.get_traced_memory()
    for _ in range(60):
        await one_call()
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert live_tasks() == tasks_before
    assert after - base < 200_000, f"memory grew by {after - base} bytes over 60 calls"


async def test_interim_transcripts_while_the_caller_speaks() -> None:
    stt = FakeStt(lambda seconds: f"{seconds:.1f} seconds of words")
    options = CallOptions(partial_every_ms=400)
    async with LocalCall(Recorder(["Okay."]), Engines(stt, FakeTts(ms_per_char=5), EnergyVad()), options=options) as c:
        await c.speak(np.concatenate([tone(1.5), silence(0.8)]))
        final = await c.wait_for(lambda e: isinstance(e, ev.TranscriptFinal))
        partials = c.events(ev.TranscriptPartial)
        assert len(partials) >= 2 and all(p.turn == final.turn for p in partials)
        assert all(c.call.events.index(p) < c.call.events.index(final) for p in partials)


async def test_typed_turns_and_greeting_latency() -> None:
    async with LocalCall(Recorder(["Sure thing."], greeting="Hi there, how can I help?"), engines([])) as c:
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
        c.call.push_text("what are your hours")
        turn = await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1)
        assert turn.text == "Sure thing."
        final = next(e for e in c.events(ev.TranscriptFinal))
        assert final.source == "text" and final.text == "what are your hours"
        assert not [e for e in c.events(ev.Latency) if e.turn == 0]  # the greeting answers no one
        assert {e.stage for e in c.events(ev.Latency) if e.turn == 1} >= {"first_text", "first_audio_sent"}


class Returning(Recorder):
    """Knows the caller: greets from ``open`` (awaited as the call connects), and keeps what the call
    said when ``aclose`` is awaited at its end."""

    def __init__(self) -> None:
        super().__init__(["Noted."], greeting="Hello.")
        self.closed_with: list[str] | None = None
        self.context: Context | None = None

    async def open(self, context: Context) -> str | None:
        self.context = context
        await anyio.lowlevel.checkpoint()  # as a store lookup would
        return "Welcome back, Ada." if context.caller == "+15550100001" else "Hello, who is this?"

    async def aclose(self) -> None:
        assert self.context is not None
        self.closed_with = [m.content for m in self.context.messages]


async def test_the_agent_contract_open_greets_and_aclose_ends_the_call() -> None:
    agent = Returning()
    async with TextCall(agent, caller="+15550100001") as c:
        assert await c.greeting() == "Welcome back, Ada."  # open's words, not greeting()'s
        assert await c.say("my name is Ada") == "Noted."
        assert agent.closed_with is None
    assert agent.closed_with == ["Welcome back, Ada.", "my name is Ada", "Noted."]


async def test_an_agent_without_a_greeting_waits_and_its_defaults_do_nothing() -> None:
    agent = Recorder(["Hi."])  # greeting None; open and aclose are Agent's
    async with TextCall(agent) as c:
        assert await c.greeting() == ""
        assert await c.say("hello") == "Hi."
    [started] = c.events(ev.CallStarted)
    assert started.greeting is False
    assert [e.turn for e in c.events(ev.AgentTurn)] == [1]
    assert c.local.ended is not None and c.local.ended.reason == "hangup"


class Faulty(Recorder):
    """An agent with a bug in ``open`` and in its replies; or, with ``engine_down``, whose language
    model fails (an engine error it lets through)."""

    def __init__(self, engine_down: bool = False) -> None:
        super().__init__([])
        self.engine_down = engine_down

    async def open(self, context: Context) -> str | None:
        return {}["greeting"]  # type: ignore[no-any-return]

    async def respond(self, turn: Turn, context: Context):  # type: ignore[no-untyped-def]
        yield Say("Let me see. ")
        if self.engine_down:
            raise EngineError("HTTP 503 from the model", engine="llm", retryable=True)
        raise KeyError("order")


async def test_agent_failures_are_reported_as_the_agents_and_answered_with_the_fallback_line() -> None:
    async with TextCall(Faulty()) as c:
        assert await c.say("where is my order") == CallOptions().fallback_line
        errors = [(e.code, e.stage, e.message) for e in c.events(ev.ErrorEvent)]
    assert errors == [("agent", "agent", "KeyError: 'greeting'"), ("agent", "agent", "KeyError: 'order'")]
    async with TextCall(Faulty(engine_down=True)) as c:
        await c.say("where is my order")
        errors = [(e.code, e.stage, e.message) for e in c.events(ev.ErrorEvent)]
    assert errors[1] == ("engine", "agent", "HTTP 503 from the model")  # the model's failure keeps its category


async def test_a_bug_in_partial_transcripts_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken_sink(event: ev.Event) -> None:  # a bug on the partials' path (any code they run)
        if isinstance(event, ev.TranscriptPartial):
            raise RuntimeError("the partial went nowhere")

    stt = FakeStt(lambda seconds: f"{seconds:.1f} seconds of words")
    options = CallOptions(partial_every_ms=400)
    async with LocalCall(Recorder(["Okay."]), Engines(stt, FakeTts(ms_per_char=5), EnergyVad()), options=options) as c:
        c.call.sinks.append(broken_sink)
        await c.speak(np.concatenate([tone(1.5), silence(0.8)]))
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn))  # the call goes on
    logged = [r for r in caplog.records if "partial transcript of turn 1 failed" in r.getMessage()]
    assert logged and all(r.levelname == "WARNING" and r.exc_info is not None for r in logged)
    assert str(logged[0].exc_info[1]) == "the partial went nowhere"  # type: ignore[index]


class TakesTime:
    """Wraps a fake engine so that it takes ``seconds`` of the call's clock before answering."""

    def __init__(self, engine, clock: SteppedClock, seconds: float) -> None:  # type: ignore[no-untyped-def]
        self.engine, self.clock, self.seconds = engine, clock, seconds
        self.name, self.sample_rate = engine.name, getattr(engine, "sample_rate", 16000)

    async def transcribe(self, audio, sample_rate, *, language="en"):  # type: ignore[no-untyped-def]
        await self.clock.sleep_until(self.clock.now() + self.seconds)
        return await self.engine.transcribe(audio, sample_rate, language=language)

    async def synthesize(self, text, style=None):  # type: ignore[no-untyped-def]
        await self.clock.sleep_until(self.clock.now() + self.seconds)
        async for chunk in self.engine.synthesize(text, style):
            yield chunk


class ConfirmingClient(MemoryIO):
    """A client that reports each mark played ``delay`` s (on the call's clock) after it was sent."""

    def __init__(self, clock: SteppedClock, delay: float) -> None:
        super().__init__()
        self.clock, self.delay = clock, delay
        self.call: Call | None = None
        self.tg: anyio.abc.TaskGroup | None = None

    def send_mark(self, name: str) -> None:
        super().send_mark(name)
        assert self.tg is not None
        self.tg.start_soon(self._played, name, self.clock.now() + self.delay)

    async def _played(self, name: str, at: float) -> None:
        await self.clock.sleep_until(at)
        assert self.call is not None
        self.call.mark_played(name)


async def test_latency_stages_are_exact_on_the_calls_clock() -> None:
    """Each stage counts from the caller's last voiced sample; voice_to_voice ends when the client
    confirms the first frame played. Every number here follows from what the test injects."""
    clock = SteppedClock()
    # 30 ms to the client, the first 20 ms frame plays, 30 ms for the confirmation to come back.
    io = ConfirmingClient(clock, delay=0.08)
    stt = TakesTime(FakeStt(["what time do you open"]), clock, 0.25)
    tts = TakesTime(FakeTts(ms_per_char=40), clock, 0.1)
    call = Call(Recorder(["We open at nine."]), Engines(stt, tts, EnergyVad()), io, clock=clock)  # type: ignore[arg-type]
    io.call = call
    audio = np.concatenate([silence(0.2), tone(0.8), silence(1.6)])
    async with anyio.create_task_group() as tg:
        io.tg = tg
        tg.start_soon(call.run)
        for start in range(0, audio.size, 320):  # 20 ms frames, each pushed once its last sample is captured
            await clock.advance(0.02)
            call.push_audio(audio[start : start + 320])
        call.hangup()
    # The tone ends 1.0 s into the audio: the caller's last voiced sample.
    assert [e.audio_ms for e in call.events if isinstance(e, ev.SpeechStopped)] == [1000]
    stages = {e.stage: e.ms for e in call.events if isinstance(e, ev.Latency) and e.turn == 1}
    assert stages == {
        "endpoint": 600.0,  # 600 ms of silence, decided with the frame that completes them
        "stt_final": 850.0,  # + 250 ms of STT
        "first_text": 850.0,  # the agent answers at once
        "first_audio_synth": 950.0,  # + 100 ms to the first synthesised audio
        "first_audio_sent": 950.0,  # the first frame leaves at once (the lead is sent ahead)
        "voice_to_voice": 1030.0,  # + 80 ms until the client confirms the first frame played
    }
    assert "1:0:320" in io.marks  # the mark after the first frame (320 samples)


class EchoesMarksOnClear(MemoryIO):
    """A client that reports no playback except, as Twilio does, every pending mark when told to clear."""

    call: Call | None = None

    def clear(self) -> None:
        super().clear()
        assert self.call is not None
        for name in self.marks:
            self.call.mark_played(name)


async def test_a_mark_echoed_by_a_clear_is_not_voice_to_voice() -> None:
    """A mark that comes back only because the caller cut the reply short confirms nothing."""
    clock = SteppedClock()
    io = EchoesMarksOnClear()
    stt = FakeStt(["tell me about the menu", "wait stop there", "wait stop there"])
    call = Call(Recorder([LONG, "Okay."]), Engines(stt, FakeTts(), EnergyVad()), io, clock=clock)
    io.call = call
    async with anyio.create_task_group() as tg:
        tg.start_soon(call.run)
        for chunk in (np.concatenate([tone(0.6), silence(1.0)]), np.concatenate([tone(1.2), silence(0.8)])):
            for start in range(0, chunk.size, 320):
                await clock.advance(0.02)
                call.push_audio(chunk[start : start + 320])
        call.hangup()
    assert io.clears == 1 and "1:0:320" in io.marks
    stages = {e.stage for e in call.events if isinstance(e, ev.Latency) and e.turn == 1}
    assert "first_audio_sent" in stages and "voice_to_voice" not in stages


async def test_audio_dropped_because_the_call_fell_behind_is_reported_when_it_ends() -> None:
    from callwright.testing.calls import MemoryIO
    from callwright.voice.call import Call

    call = Call(front_desk(), engines(["hello"]), MemoryIO(input_rate=16000, output_rate=16000), options=CallOptions(ingress_frames=4))
    for _ in range(10):  # ten 20 ms frames arrive before the call reads any: the six oldest are dropped
        call.push_audio(silence(0.02))
    call.hangup("hangup")
    ended = await call.run()
    assert call.dropped_frames == 6 and ended.dropped_frames == 6
    assert call.events[-1] == ended
