"""Voice mode, fast: a Callwright agent called in-process on virtual time, with real speech models.

The caller's words are spoken by a synthetic voice (:mod:`.utterance`), put through the case's
acoustic environment (:mod:`.acoustics`) and fed to a real :class:`~callwright.voice.call.Call`
frame by frame; the agent hears them with its own VAD and recogniser and answers with its own TTS.
The whole call runs on a :class:`~callwright.clock.SteppedClock` that charges compute: every
inference costs the virtual time it took for real, and everything else (the caller's pace, the
endpoint silence, tools, fillers, timeouts) costs none. So the turns and the latencies are those of
a real call on this machine, and an idle second costs nothing.

Per turn the runner records what the caller meant, what the agent heard (WER), the agent's reply
and the latency as the caller hears it (the end of the caller's voiced audio to the first sample of
the reply); the case is judged with the same expectations as text mode, plus latency budgets. Both
sides are kept as a stereo WAV (caller left, agent right) when ``recording`` is given.

The caller's side sends one line, 20 ms at a time, whatever happens: its words, the room's noise
between them, a speakerphone's echo of the agent, and the backchannels and interruptions a script
says over the agent's talk, timed from the sentence marks of the agent's audio. From both sides'
audio on the clock and the agent's barge-in events it measures yields (how fast, how much talking
over), false yields to backchannels, stray yields to nothing said, cut-offs and dead air.
"""

from __future__ import annotations

import bisect
import copy
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import numpy as np

from .. import events as ev
from ..audio.pcm import Pcm
from ..audio.resample import resample
from ..clock import SteppedClock, aside
from ..testing.conversations import SAFETY_CHECKS, Failure, Transcript, end_problems, turn_problems
from ..transport.memory import MemoryIO
from .acoustics import render
from .callers import Caller, ScriptedCaller
from .judge import latency_summary, wer
from .runner import MAX_TURNS, CaseResult, _state_problem
from .scenario import Case, Persona, Step
from .timeline import moments
from .utterance import speak

RATE = 16000  # the call's audio, both ways
FRAME_MS = 20
QUIET_S = 0.4  # the agent has finished talking when no audio has come for this long
STEP_S = 0.02  # how far the caller's side moves the clock while it waits
SPURT_GAP_S = 0.1  # the agent's frames closer than this are one stretch of talk
YIELD_WINDOW_S = 1.0  # a yield this long after words said over the agent ended is still to them
DEAD_AIR_S = 2.0  # a silence longer than this, broken by the agent, is dead air the caller waited through


@dataclass
class StampedIO(MemoryIO):
    """A loopback line that notes when each chunk of the agent's audio left, on the call's clock,
    and plays it at once (every playback mark is confirmed as it is sent)."""

    clock: Any = None
    sent: list[tuple[float, Pcm]] = field(default_factory=list)
    marked: list[tuple[float, str]] = field(default_factory=list)  # each mark and when it was sent
    on_mark: Any = None
    _starts: list[float] = field(default_factory=list)

    def send_audio(self, pcm: Pcm) -> None:
        super().send_audio(pcm)
        self.sent.append((self.clock.now(), pcm))
        self._starts.append(self.sent[-1][0])

    def send_mark(self, name: str) -> None:
        super().send_mark(name)
        self.marked.append((self.clock.now(), name))
        if self.on_mark is not None:
            self.on_mark(name)

    def last_audio_at(self) -> float | None:
        if not self.sent:
            return None
        at, pcm = self.sent[-1]
        return at + pcm.size / RATE

    def first_audio_after(self, moment: float) -> float | None:
        return next((at for at, _ in self.sent if at >= moment), None)

    def sentence_start(self, turn: int, sentence: int) -> float | None:
        """When the agent's turn ``turn`` began its ``sentence``-th sentence (1-based), or None (not yet).

        The call marks the end of each sentence (``turn:k:samples``) and, for a reply, its first
        frame (``turn:0:samples``); the greeting (turn 0) begins with the call's first audio."""
        if sentence == 1 and turn == 0:
            return self.sent[0][0] if self.sent else None
        wanted = f"{turn}:{sentence - 1}:"
        mark = next((at for at, name in self.marked if name.startswith(wanted)), None)
        if mark is None:
            return None
        if sentence == 1:
            return mark  # sent with the reply's first frame
        return next((at for at, _ in self.sent if at > mark), None)

    def spurts(self) -> list[tuple[float, float]]:
        """The agent's talk as (start, end) on the clock: runs of frames with no gap over 100 ms."""
        out: list[tuple[float, float]] = []
        for at, pcm in self.sent:
            end = at + pcm.size / RATE
            if out and at - out[-1][1] <= SPURT_GAP_S:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((at, end))
        return out

    def talk_end(self, moment: float) -> float | None:
        """When the agent's talk that was going on at ``moment`` stopped, or None if it was silent."""
        return next((end for start, end in self.spurts() if start <= moment < end), None)

    def played(self, start: float, samples: int) -> Pcm:
        """The agent's audio as the caller's phone played it from ``start`` on the clock: ``samples`` of it."""
        out = np.zeros(samples, dtype=np.int16)
        end = start + samples / RATE
        first = max(0, bisect.bisect_right(self._starts, start) - 1)
        for at, pcm in self.sent[first:]:
            if at >= end:
                break
            offset = round((at - start) * RATE)
            lo, hi = max(0, offset), min(samples, offset + pcm.size)
            if hi > lo:
                out[lo:hi] = pcm[lo - offset : hi - offset]
        return out


@dataclass
class HeardTurn:
    """One spoken caller turn as both sides had it."""

    meant: str
    heard: str  # what the agent's recogniser wrote ("" where the agent does not say: real time over Twilio)
    wer: float | None  # None where what the agent heard is not known
    latency_ms: float | None


@dataclass
class VoiceResult(CaseResult):
    heard: list[HeardTurn] = field(default_factory=list)
    real_s: float = 0.0  # wall time the case took
    virtual_s: float = 0.0  # call time it covered
    interruptions: list[dict[str, Any]] = field(default_factory=list)  # said over the agent: did it yield, how fast
    backchannels: list[dict[str, Any]] = field(default_factory=list)  # "mm-hmm" over the agent: did it (wrongly) yield
    cut_offs: list[float] = field(default_factory=list)  # the agent began while the caller was mid-sentence (s)
    dead_air: list[float] = field(default_factory=list)  # silences over DEAD_AIR_S the caller waited through (s)
    stray_yields: list[float] = field(default_factory=list)  # the agent stopped for no caller words (echo, noise): when
    ignored: dict[str, int] = field(default_factory=dict)  # sound the agent heard over itself and let pass, by reason

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        latencies = [h.latency_ms for h in self.heard if h.latency_ms is not None]
        out |= {
            "heard": [h.__dict__ for h in self.heard],
            "latency_ms": latency_summary(latencies),
            "real_s": round(self.real_s, 2), "virtual_s": round(self.virtual_s, 2),
            "interruptions": self.interruptions, "backchannels": self.backchannels,
            "cut_offs_s": self.cut_offs, "dead_air_s": self.dead_air, "stray_yields_s": self.stray_yields,
            "ignored": self.ignored,
        }
        return out


async def run_voice(
    case: Case, app: Any, engines: Any, *, charge: Any = "measured", timeout: float = 300.0,
    recording: Path | None = None, safety_only: bool = False,
    caller: Caller | None = None,  # who calls (default: the scenario's scripted caller)
) -> VoiceResult:
    """``case`` as a phone call with real speech, in fast mode (see the module docstring).

    ``engines`` (:class:`~callwright.voice.call.Engines`) are shared by cases run one after another;
    ``charge`` is the clock's ``charge_compute`` ("measured", or a fixed cost in seconds for runs
    that must give the same times on any machine).
    """
    import time

    from ..agent.app import Services
    from ..jobs.notify import OutboxNotifier
    from ..store import open_store
    from ..testing.calls import LocalCall
    from ..transport.links import LinkSigner

    scenario = case.scenario
    result = VoiceResult(case, "voice", Transcript(case.name, scenario.safety))
    started = time.perf_counter()  # wall time, meant: how long the case took to run, set against its virtual length
    clock = SteppedClock(charge_compute=charge)
    with tempfile.TemporaryDirectory(prefix="callwright-sim-") as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'callwright.db'}")
        try:
            own = copy.copy(app)
            own.services = Services(
                store=store, notifier=OutboxNotifier(store), links=LinkSigner("simulator-link-secret-of-32-chars"),
                public_url="http://127.0.0.1:8000", data_dir=Path(tmp),
            )
            io = StampedIO(input_rate=RATE, output_rate=RATE, clock=clock)
            line = await aside(_background, scenario, case.seed)
            async with LocalCall(own.agent(), engines, clock=clock, caller=scenario.phone, io=io) as call:
                io.on_mark = call.call.mark_played  # the caller's phone plays what it gets at once
                side = _CallerSide(case, call, io, line, result, timeout, caller or ScriptedCaller(scenario))
                await side.converse(safety_only)
                every = call.events()
                result.virtual_s = clock.now()
                result.timeline = moments(every)
            for check, detail in end_problems(scenario.expect, side.replies, every):
                if not safety_only or check in SAFETY_CHECKS:
                    result.transcript.failures.append(Failure(case.name, None, check, detail))
            side.judge_timing(every)
            if not safety_only:
                _judge_budgets(result, result.transcript.failures)
                for state in scenario.expect.state:
                    problem = await _state_problem(own, state, scenario.phone)
                    if problem:
                        result.transcript.failures.append(Failure(case.name, None, "state", problem))
            if recording is not None:
                _write_stereo(recording, [(s.at, s.pcm) for s in side.sounds], io.sent, result.virtual_s)
        finally:
            await store.close()
    result.real_s = time.perf_counter() - started  # wall time, meant (see above)
    return result


@dataclass
class CallerSound:
    """Caller audio put on the line: a turn, a backchannel or an interruption, with its voice on the clock."""

    kind: Literal["turn", "backchannel", "interrupt"]
    at: float  # when its first sample went out
    pcm: Pcm  # as the line carries it (16 kHz)
    voiced_s: float  # how long the voice in it lasts from ``at``
    meant: str = ""

    @property
    def voice_end(self) -> float:
        return self.at + self.voiced_s


@dataclass
class _Over:
    """A step said over the agent's talk (:meth:`ScriptedCaller.upcoming`), prepared, and once said, when."""

    step: Step
    pcm: Pcm
    voiced_s: float
    meant: str
    turn: int  # the agent turn it is said over
    sound: CallerSound | None = None  # set once said
    heard_before: int = 0  # transcripts the agent had made before it
    events_before: int = 0


class _CallerSide:
    """The caller of one voice-mode case: speaks its steps, waits for the agent, says backchannels and
    interruptions over the agent's talk, and notes what both sides did on the call's clock."""

    def __init__(self, case: Case, call: Any, io: StampedIO, line: Line, result: VoiceResult, timeout: float, caller: Caller) -> None:
        self.case, self.call, self.io, self.line, self.result, self.timeout = case, call, io, line, result, timeout
        self.scenario = case.scenario
        self.persona = self.scenario.persona or Persona()
        self.voice = self.persona.sounding()
        self.caller = caller
        self.clock: SteppedClock = call.clock
        self.sounds: list[CallerSound] = []
        self.replies: list[str] = []
        self.over: _Over | None = None  # the step to say over the agent, once prepared
        self.said_over: list[_Over] = []
        self.pending: list[_Over] = []  # said over the agent, not yet taken as steps
        self.number = 0  # utterances spoken, for their seeds
        environment = self.scenario.environment
        self.echo = _EchoPath(environment.echo, environment.channel.kind == "phone") if environment and environment.echo else None

    @property
    def failures(self) -> list[Failure]:
        return self.result.transcript.failures

    async def converse(self, safety_only: bool) -> None:
        call, result = self.call, self.result
        greeting = await self.reply_to(0)
        reply = greeting.text if greeting is not None else ""
        if reply:
            result.transcript.exchanges.append(("", reply))
        events: Sequence[ev.Event] = call.events()
        while result.turns < MAX_TURNS:
            over = self.pending.pop(0) if self.pending else None  # said over the agent while it waited
            step = over.step if over is not None else await self.caller.next(reply, events)
            if step is None:
                break
            if _ended(call):
                if step.say is not None or step.dtmf is not None:
                    self.failures.append(Failure(self.case.name, result.turns + 1, "call", "the call had already ended"))
                break
            if step.silence_s:
                await self.idle(step.silence_s)
            result.skipped += voice_skips(step, over_agent=True)
            if step.backchannel is not None:
                if over is None:  # the agent stopped before the moment came
                    result.skipped.append(f"backchannel {step.backchannel.say!r}: the agent's talk ended before its sentence {step.backchannel.sentence}")
                elif over.heard_before < len(call.events(ev.TranscriptFinal)):  # the agent took it for a turn
                    answer = await self.answer(over.heard_before)
                    reply = answer.text if answer is not None else ""
                    result.transcript.exchanges.append((f"[{step.backchannel.say} over the agent]", reply))
                    events = call.events()[over.events_before:]
            if step.web is not None or (step.say is None and step.dtmf is None):
                if step.hangup:
                    call.call.hangup("hangup")
                    break
                continue
            before = over.events_before if over is not None and step.interrupt is not None else len(call.events())
            heard_before = over.heard_before if over is not None and step.interrupt is not None else len(call.events(ev.TranscriptFinal))
            utterance = None
            if step.dtmf is not None:
                for key in step.dtmf:
                    call.call.push_text(key, source="dtmf")
                    await self.idle(0.15)
                said, spoken_end = f"[keys {step.dtmf}]", self.clock.now()
            elif over is not None and step.interrupt is not None:
                assert over.sound is not None
                said, spoken_end = f"{step.say}  [over the agent's sentence {step.interrupt.sentence}]", over.sound.voice_end
                meant = over.meant
            else:
                assert step.say is not None
                if step.interrupt is not None:
                    result.skipped.append(f"interruption {step.say!r}: the agent's talk ended before its sentence {step.interrupt.sentence}; said as a turn")
                utterance = await self._spoken(step.say)
                sound = await self.say("turn", *utterance)
                said, spoken_end, meant = step.say, sound.voice_end, utterance[2]
            result.turns += 1
            answer = await self.answer(heard_before)
            if answer is None and step.say is not None and not _ended(call):
                # no answer: a caller says it again, once, as people do on a bad line
                again = utterance or await self._spoken(step.say)
                sound = await self.say("turn", *again)
                spoken_end = sound.voice_end
                said = f"{step.say}  [said again after {self.persona.patience_s:g} s of nothing]"
                answer = await self.answer(heard_before)
            reply = answer.text if answer is not None else ""
            heard_now = [e.text for e in call.events(ev.TranscriptFinal)[heard_before:]]
            if step.say is not None:
                first = self.io.first_audio_after(spoken_end) if reply else None
                result.heard.append(HeardTurn(
                    meant=meant, heard=" ".join(heard_now), wer=wer(meant, " ".join(heard_now)),
                    latency_ms=round((first - spoken_end) * 1000, 1) if first is not None else None,
                ))
            result.transcript.exchanges.append((f"{said}  (heard: {' '.join(heard_now) or '-'})", reply))
            self.replies.append(reply)
            events = call.events()[before:]
            for check, detail in turn_problems(step.expect, reply, events, _ended(call)):
                if not safety_only or check in SAFETY_CHECKS:
                    self.failures.append(Failure(self.case.name, result.turns, check, detail))
            latency = result.heard[-1].latency_ms if step.say is not None and result.heard else None
            if step.latency_ms is not None and (latency is None or latency > step.latency_ms):
                self.failures.append(Failure(self.case.name, result.turns, "latency_ms", f"{latency} ms, at most {step.latency_ms:g}"))
            if step.hangup:
                call.call.hangup("hangup")
                break

    # ------------------------------------------------------------ speaking
    async def _spoken(self, text: str) -> tuple[Pcm, float, str]:
        """``text`` in the persona's voice through the case's line: the audio, its voiced length, the words meant."""
        return await self._voiced(partial(speak, text))

    async def _backchannel(self, kind: Any) -> tuple[Pcm, float, str]:
        from .utterance import backchannel

        return await self._voiced(partial(backchannel, kind))

    async def _voiced(self, say: Any) -> tuple[Pcm, float, str]:
        """``say(voice, seed=...)`` (an utterance) with the next seed, through the case's line."""
        self.number += 1
        seed = self.case.seed + self.number
        utterance = await aside(partial(say, self.voice, seed=seed))
        pcm, voiced = await aside(_through_line, utterance.pcm, utterance.sample_rate, self.scenario, seed)
        return pcm, voiced, utterance.text

    async def say(self, kind: Literal["turn", "backchannel", "interrupt"], pcm: Pcm, voiced_s: float, meant: str) -> CallerSound:
        """Put ``pcm`` on the line now and wait until it has all gone out."""
        sound = CallerSound(kind, self.clock.now(), pcm, voiced_s, meant)
        self.sounds.append(sound)
        self.line.overlay(pcm)
        await self.idle(pcm.size / RATE)
        return sound

    async def idle(self, seconds: float) -> None:
        """``seconds`` of the line: what the caller says (:meth:`Line.overlay`), else the room's noise,
        plus the agent's own voice coming back on a speakerphone; 20 ms at a time, as a phone sends."""
        samples = round(seconds * RATE)
        step = RATE * FRAME_MS // 1000
        for start in range(0, samples, step):
            frame = self.line.take(min(step, samples - start))
            if self.echo is not None:
                frame = self.echo.add(frame, self.io, self.clock.now())
            await self.call.speak(frame, frame_ms=FRAME_MS)

    # ------------------------------------------------------------ waiting
    async def reply_to(self, turn: int) -> ev.AgentTurn | None:
        """The agent's turn ``turn`` once it has finished playing, or None after the persona's patience
        of nothing. Meanwhile a backchannel or interruption due over this turn is said at its moment."""
        waited, patience = 0.0, self.persona.patience_s
        with anyio.fail_after(self.timeout):  # real time, meant: bounds a hung run; the call's own waits are on its clock
            while True:
                done = next((e for e in self.call.events(ev.AgentTurn) if e.turn == turn), None)
                ended = _ended(self.call)
                if done is not None or ended:
                    last = self.io.last_audio_at()
                    if ended or ((last is None or self.clock.now() - last >= QUIET_S) and not self.line.speaking):
                        return done
                elif waited >= patience:
                    return None
                await self._over_agent(turn)
                await self.idle(STEP_S)
                last = self.io.last_audio_at()
                # patience runs out only on silence: a filler or a long answer still being said is no wait
                waited = 0.0 if last is not None and self.clock.now() - last < QUIET_S else waited + STEP_S

    async def answer(self, heard_before: int) -> ev.AgentTurn | None:
        """The agent's answer to what it heard after ``heard_before`` transcripts (its last turn, when the
        recogniser cut the caller's words into several), or None if it heard nothing or said nothing."""
        waited = 0.0
        with anyio.fail_after(self.timeout):  # real time, meant: bounds a hung run; the call's own waits are on its clock
            while (waited < self.persona.patience_s or self.line.speaking) and not _ended(self.call):
                if self.call.events(ev.TranscriptFinal)[heard_before:]:
                    break
                await self.idle(STEP_S)
                waited += STEP_S
            finals = self.call.events(ev.TranscriptFinal)[heard_before:]
            if not finals:
                return None
            answer = await self.reply_to(finals[-1].turn)
            # words said over the agent meanwhile are the next step's, not a tail of these
            fence = next((o.heard_before for o in self.pending if o.heard_before >= heard_before), None)
            later = self.call.events(ev.TranscriptFinal)[heard_before:fence]
            if later and later[-1].turn != finals[-1].turn:  # a tail of the same words was heard while it answered
                answer = await self.reply_to(later[-1].turn)
            return answer

    async def _over_agent(self, turn: int) -> None:
        """Say the next step's backchannel or interruption when the agent's turn ``turn`` reaches its moment."""
        over = self.over
        if over is not None and (over.sound is not None or over.turn != turn):
            return
        if over is None:
            so_far = " ".join(e.text for e in self.call.events(ev.AgentText) if e.turn == turn)
            upcoming = getattr(self.caller, "upcoming", None)  # a scripted caller knows its next step; an LLM caller does not
            step = upcoming(so_far, self.call.events()) if upcoming is not None else None
            if step is None:
                return
            moment = step.interrupt or step.backchannel
            if self.io.sentence_start(turn, 1) is None:
                return  # not talking yet: prepare once it is (its words may be the cue)
            if step.interrupt is not None:
                assert step.say is not None
                words = await self._spoken(step.say)
            else:
                assert step.backchannel is not None
                words = await self._backchannel(step.backchannel.say)
            over = self.over = _Over(step, *words, turn=turn)
        moment = over.step.interrupt or over.step.backchannel
        assert moment is not None
        begins = self.io.sentence_start(turn, moment.sentence)
        if begins is None or self.clock.now() < begins + moment.after_ms / 1000:
            return
        over.heard_before = len(self.call.events(ev.TranscriptFinal))
        over.events_before = len(self.call.events())
        kind: Literal["backchannel", "interrupt"] = "interrupt" if over.step.interrupt is not None else "backchannel"
        over.sound = CallerSound(kind, self.clock.now(), over.pcm, over.voiced_s, over.meant)
        self.sounds.append(over.sound)
        self.line.overlay(over.pcm)
        self.caller.take(over.step)  # type: ignore[attr-defined]  # only a caller with ``upcoming`` gets here
        self.said_over.append(over)
        self.pending.append(over)
        self.over = None

    # ------------------------------------------------------------ judging the timing
    def judge_timing(self, every: Sequence[ev.Event]) -> None:
        """Yields to interruptions, false yields to backchannels, cut-offs and dead air, from both
        sides' audio on the clock and the agent's barge-in events."""
        result = self.result
        origin = self.clock.now() - self.call.call.elapsed_ms / 1000  # events' t_ms count from here
        yields = [origin + e.t_ms / 1000 for e in every if isinstance(e, ev.BargeIn)]
        explained: set[float] = set()
        for over in self.said_over:
            assert over.sound is not None
            onset = over.sound.at
            stopped = self.io.talk_end(onset)
            answered = [at for at in yields if onset - 0.05 <= at <= over.sound.voice_end + YIELD_WINDOW_S]
            explained.update(answered)
            yielded = bool(answered)
            if over.sound.kind == "interrupt":
                entry = {
                    "at_s": round(onset, 3), "said": over.meant, "yielded": yielded,
                    "yield_ms": round((stopped - onset) * 1000, 1) if stopped is not None and yielded else None,
                    "talk_over_ms": round(max(0.0, min(stopped, over.sound.voice_end) - onset) * 1000, 1) if stopped is not None else 0.0,
                }
                result.interruptions.append(entry)
                if not yielded:
                    self.failures.append(Failure(self.case.name, None, "yield", f"the agent talked on over {over.meant!r} said {onset:.2f} s into the call"))
            else:
                result.backchannels.append({"at_s": round(onset, 3), "said": over.meant, "yielded": yielded})
                if yielded:
                    self.failures.append(Failure(self.case.name, None, "false_yield", f"the agent stopped talking for a backchannel {over.meant!r} at {onset:.2f} s"))
        # yields to nothing the caller said over the agent: echo, noise, a cough, someone else in the room
        result.stray_yields = [round(at, 3) for at in yields if at not in explained]
        result.ignored = dict(Counter(e.reason for e in every if isinstance(e, ev.SpeechIgnored)))
        spurts = self.io.spurts()
        for start, _ in spurts:
            for sound in self.sounds:
                if sound.kind == "turn" and sound.at + 0.2 < start < sound.voice_end:
                    result.cut_offs.append(round(start, 3))
        ends = sorted([end for _, end in spurts] + [s.voice_end for s in self.sounds])
        for start, _ in spurts:
            previous = max((e for e in ends if e <= start), default=None)
            begun = any(previous is not None and previous < s.at < start for s in self.sounds)
            if previous is not None and not begun and start - previous > DEAD_AIR_S:
                result.dead_air.append(round(start - previous, 3))


class _EchoPath:
    """The agent's voice from a speakerphone back into the caller's microphone (``Environment.echo``)."""

    def __init__(self, echo: Any, phone: bool) -> None:
        self.delay_s = echo.delay_ms / 1000
        self.gain = 10 ** (echo.level_db / 20)
        self.band: Any = None
        if phone:
            from scipy.signal import butter, sosfilt_zi

            self.band = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
            self.state = sosfilt_zi(self.band) * 0.0

    def add(self, frame: Pcm, io: StampedIO, now: float) -> Pcm:
        back = io.played(now - self.delay_s, frame.size).astype(np.float32) * self.gain
        if self.band is not None:
            from scipy.signal import sosfilt

            back, self.state = sosfilt(self.band, back, zi=self.state)
        mixed: Pcm = np.clip(frame.astype(np.float32) + back, -32768, 32767).astype(np.int16)
        return mixed


class Line:
    """The caller's microphone between utterances: the room's noise through the line, looped."""

    def __init__(self, audio: Pcm) -> None:
        self.audio = audio
        self.at = 0
        self.said = np.zeros(0, dtype=np.int16)  # what the caller says, going out in place of the noise

    def overlay(self, pcm: Pcm) -> None:
        """Send ``pcm`` (already through the case's line, its noise in it) next, in place of the noise."""
        self.said = np.concatenate([self.said, pcm.astype(np.int16)])

    @property
    def speaking(self) -> bool:
        return self.said.size > 0

    def take(self, samples: int) -> Pcm:
        out = self._noise(samples)
        said, self.said = self.said[:samples], self.said[samples:]
        out[: said.size] = said
        return out

    def _noise(self, samples: int) -> Pcm:
        if self.audio.size == 0:
            return np.zeros(samples, dtype=np.int16)
        out = np.take(self.audio, np.arange(self.at, self.at + samples), mode="wrap")
        self.at = (self.at + samples) % self.audio.size
        return out.astype(np.int16)


BACKGROUND_S = 3.0
SPEECH_DBFS = -26.0  # the level the voices speak at (utterance.py): noise between turns is set against it


def _background(scenario: Any, seed: int) -> Line:
    """What the line carries while the caller is quiet: silence, or the case's noise through its line."""
    silence = np.zeros(int(BACKGROUND_S * RATE), dtype=np.int16)
    if scenario.environment is None:
        return Line(silence)
    rendered = render(silence, RATE, scenario.environment, seed=seed ^ 0x5EED, reference_dbfs=SPEECH_DBFS)
    audio = rendered.audio if rendered.sample_rate == RATE else resample(rendered.audio, rendered.sample_rate, RATE)
    return Line(audio.astype(np.int16))


def voice_skips(step: Any, *, over_agent: bool = False) -> list[str]:
    """What a voice mode leaves out of ``step`` (said in the report, never counted as a pass);
    ``over_agent``: the mode says backchannels and interruptions over the agent's talk."""
    skipped = []
    if step.web is not None:
        skipped.append("web form values (text mode only so far)")
    if not over_agent and (step.backchannel is not None or step.interrupt is not None):
        skipped.append("backchannels and interruptions (not yet in real-time mode)")
    return skipped


def _through_line(pcm: Pcm, rate: int, scenario: Any, seed: int) -> tuple[Pcm, float]:
    """The caller's audio as the agent's line delivers it (16 kHz), and how long the voiced part lasts."""
    voiced = pcm.size / rate
    if scenario.environment is not None:
        rendered = render(pcm, rate, scenario.environment, seed=seed)
        pcm, rate = rendered.audio, rendered.sample_rate
    out = resample(pcm, rate, RATE) if rate != RATE else pcm
    return out.astype(np.int16), voiced


def _judge_budgets(result: VoiceResult, failures: list[Failure]) -> None:
    budget = result.case.scenario.expect.latency
    if budget is None:
        return
    values = [h.latency_ms for h in result.heard if h.latency_ms is not None]
    got = latency_summary(values)
    for name, limit in (("p50", budget.p50_ms), ("p90", budget.p90_ms)):
        measured = got[name]
        if limit is not None and (measured is None or measured > limit):
            failures.append(Failure(result.case.name, None, "latency", f"{name} {measured} ms, at most {limit:g}"))


def _write_stereo(path: Path, caller: Sequence[tuple[float, Pcm]], agent: Sequence[tuple[float, Pcm]], seconds: float) -> None:
    """Caller left, agent right, each chunk at the time it was sent."""
    import soundfile

    total = int((seconds + 1.0) * RATE)
    track = np.zeros((total, 2), dtype=np.int16)
    for channel, chunks in ((0, caller), (1, agent)):
        for at, pcm in chunks:
            start = int(at * RATE)
            end = min(total, start + pcm.size)
            if start < total:
                track[start:end, channel] = pcm[: end - start]
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), track, RATE, subtype="PCM_16")


def _ended(call: Any) -> bool:
    return any(isinstance(e, ev.CallEnded) for e in call.events())
