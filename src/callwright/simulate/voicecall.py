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
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import events as ev
from ..audio.pcm import Pcm
from ..audio.resample import resample
from ..clock import SteppedClock, offload
from ..testing.conversations import SAFETY_CHECKS, Failure, Transcript, end_problems, turn_problems
from ..transport.memory import MemoryIO
from .acoustics import render
from .callers import Caller, ScriptedCaller
from .judge import latency_summary, wer
from .runner import CaseResult, _state_problem
from .scenario import Case, Persona
from .utterance import speak

RATE = 16000  # the call's audio, both ways
FRAME_MS = 20
QUIET_S = 0.4  # the agent has finished talking when no audio has come for this long
STEP_S = 0.02  # how far the caller's side moves the clock while it waits


@dataclass
class StampedIO(MemoryIO):
    """A loopback line that notes when each chunk of the agent's audio left, on the call's clock,
    and plays it at once (every playback mark is confirmed as it is sent)."""

    clock: Any = None
    sent: list[tuple[float, Pcm]] = field(default_factory=list)
    on_mark: Any = None

    def send_audio(self, pcm: Pcm) -> None:
        super().send_audio(pcm)
        self.sent.append((self.clock.now(), pcm))

    def send_mark(self, name: str) -> None:
        super().send_mark(name)
        if self.on_mark is not None:
            self.on_mark(name)

    def last_audio_at(self) -> float | None:
        if not self.sent:
            return None
        at, pcm = self.sent[-1]
        return at + pcm.size / RATE

    def first_audio_after(self, moment: float) -> float | None:
        return next((at for at, _ in self.sent if at >= moment), None)


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

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        latencies = [h.latency_ms for h in self.heard if h.latency_ms is not None]
        out |= {
            "heard": [h.__dict__ for h in self.heard],
            "latency_ms": latency_summary(latencies),
            "real_s": round(self.real_s, 2), "virtual_s": round(self.virtual_s, 2),
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
    persona = scenario.persona or Persona()
    voice = persona.sounding()
    result = VoiceResult(case, "voice", Transcript(case.name, scenario.safety))
    failures = result.transcript.failures
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
            line = await offload(_background, scenario, case.seed)
            caller_track: list[tuple[float, Pcm]] = []
            caller = caller or ScriptedCaller(scenario)
            replies: list[str] = []
            async with LocalCall(own.agent(), engines, clock=clock, caller=scenario.phone, io=io) as call:
                io.on_mark = call.call.mark_played  # the caller's phone plays what it gets at once
                call.line = line  # type: ignore[attr-defined]  # what the caller's microphone sends between utterances
                greeting = await _reply_to(call, io, 0, persona.patience_s, timeout)
                reply = greeting.text if greeting is not None else ""
                if reply:
                    result.transcript.exchanges.append(("", reply))
                events: Sequence[ev.Event] = call.events()
                number = 0
                while (step := await caller.next(reply, events)) is not None and result.turns < 40:
                    if _ended(call):
                        if step.say is not None or step.dtmf is not None:
                            failures.append(Failure(case.name, result.turns + 1, "call", "the call had already ended"))
                        break
                    if step.silence_s:
                        await _idle(call, step.silence_s)
                    result.skipped += voice_skips(step)
                    if step.web is not None:
                        continue
                    before = len(call.events())
                    heard_before = len(call.events(ev.TranscriptFinal))
                    if step.dtmf is not None:
                        for key in step.dtmf:
                            call.call.push_text(key, source="dtmf")
                            await _idle(call, 0.15)
                        said, spoken_end = f"[keys {step.dtmf}]", clock.now()
                    elif step.say is not None:
                        number += 1
                        utterance = await offload(partial(speak, step.say, voice, seed=case.seed + number))
                        pcm, spoken = await offload(_through_line, utterance.pcm, utterance.sample_rate, scenario, case.seed + number)
                        begin = clock.now()
                        caller_track.append((begin, pcm))
                        await call.speak(pcm, frame_ms=FRAME_MS)
                        spoken_end = begin + spoken
                        said = step.say
                    else:
                        if step.hangup:
                            call.call.hangup("hangup")
                            break
                        continue
                    result.turns += 1
                    answer = await _answer(call, io, heard_before, persona.patience_s, timeout)
                    if answer is None and step.say is not None and not _ended(call):
                        # no answer: a caller says it again, once, as people do on a bad line
                        number += 1
                        again = await offload(_through_line, utterance.pcm, utterance.sample_rate, scenario, case.seed + number)
                        begin = clock.now()
                        caller_track.append((begin, again[0]))
                        await call.speak(again[0], frame_ms=FRAME_MS)
                        spoken_end = begin + again[1]
                        said = f"{step.say}  [said again after {persona.patience_s:g} s of nothing]"
                        answer = await _answer(call, io, heard_before, persona.patience_s, timeout)
                    reply = answer.text if answer is not None else ""
                    heard_now = [e.text for e in call.events(ev.TranscriptFinal)[heard_before:]]
                    if step.say is not None:
                        first = io.first_audio_after(spoken_end) if reply else None
                        result.heard.append(HeardTurn(
                            meant=utterance.text, heard=" ".join(heard_now), wer=wer(utterance.text, " ".join(heard_now)),
                            latency_ms=round((first - spoken_end) * 1000, 1) if first is not None else None,
                        ))
                    result.transcript.exchanges.append((f"{said}  (heard: {' '.join(heard_now) or '-'})", reply))
                    replies.append(reply)
                    events = call.events()[before:]
                    for check, detail in turn_problems(step.expect, reply, events, _ended(call)):
                        if not safety_only or check in SAFETY_CHECKS:
                            failures.append(Failure(case.name, result.turns, check, detail))
                    latency = result.heard[-1].latency_ms if step.say is not None and result.heard else None
                    if step.latency_ms is not None and (latency is None or latency > step.latency_ms):
                        failures.append(Failure(case.name, result.turns, "latency_ms", f"{latency} ms, at most {step.latency_ms:g}"))
                    if step.hangup:
                        call.call.hangup("hangup")
                        break
                every = call.events()
                result.virtual_s = clock.now()
            for check, detail in end_problems(scenario.expect, replies, every):
                if not safety_only or check in SAFETY_CHECKS:
                    failures.append(Failure(case.name, None, check, detail))
            if not safety_only:
                _judge_budgets(result, failures)
                for state in scenario.expect.state:
                    problem = await _state_problem(own, state, scenario.phone)
                    if problem:
                        failures.append(Failure(case.name, None, "state", problem))
            if recording is not None:
                _write_stereo(recording, caller_track, io.sent, result.virtual_s)
        finally:
            await store.close()
    result.real_s = time.perf_counter() - started  # wall time, meant (see above)
    return result


class Line:
    """The caller's microphone between utterances: the room's noise through the line, looped."""

    def __init__(self, audio: Pcm) -> None:
        self.audio = audio
        self.at = 0

    def take(self, samples: int) -> Pcm:
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


async def _idle(call: Any, seconds: float) -> None:
    """``seconds`` of the caller being quiet: the line keeps sending frames, as a phone does."""
    samples = round(seconds * RATE)
    step = RATE * FRAME_MS // 1000
    for start in range(0, samples, step):
        await call.speak(call.line.take(min(step, samples - start)), frame_ms=FRAME_MS)


def voice_skips(step: Any) -> list[str]:
    """What the voice modes leave out of ``step`` (said in the report, never counted as a pass)."""
    skipped = []
    if step.web is not None:
        skipped.append("web form values (text mode only so far)")
    if step.backchannel is not None or step.interrupt is not None:
        skipped.append("backchannels and interruptions (not yet in voice mode)")
    return skipped


def _through_line(pcm: Pcm, rate: int, scenario: Any, seed: int) -> tuple[Pcm, float]:
    """The caller's audio as the agent's line delivers it (16 kHz), and how long the voiced part lasts."""
    voiced = pcm.size / rate
    if scenario.environment is not None:
        rendered = render(pcm, rate, scenario.environment, seed=seed)
        pcm, rate = rendered.audio, rendered.sample_rate
    out = resample(pcm, rate, RATE) if rate != RATE else pcm
    return out.astype(np.int16), voiced


async def _reply_to(call: Any, io: StampedIO, turn: int, patience: float, timeout: float) -> ev.AgentTurn | None:
    """The agent's turn ``turn`` once it has finished playing, or None after ``patience`` of nothing."""
    import anyio

    waited = 0.0
    with anyio.fail_after(timeout):  # real time, meant: bounds a hung run; the call's own waits are on its clock
        while True:
            done = next((e for e in call.events(ev.AgentTurn) if e.turn == turn), None)
            ended = _ended(call)
            if done is not None or ended:
                last = io.last_audio_at()
                if ended or last is None or call.clock.now() - last >= QUIET_S:
                    return done
            elif waited >= patience:
                return None
            await _idle(call, STEP_S)
            last = io.last_audio_at()
            # patience runs out only on silence: a filler or a long answer still being said is no wait
            waited = 0.0 if last is not None and call.clock.now() - last < QUIET_S else waited + STEP_S


async def _answer(call: Any, io: StampedIO, heard_before: int, patience: float, timeout: float) -> ev.AgentTurn | None:
    """The agent's answer to what it heard after ``heard_before`` transcripts (its last turn, when the
    recogniser cut the caller's words into several), or None if it heard nothing or said nothing."""
    import anyio

    waited = 0.0
    with anyio.fail_after(timeout):  # real time, meant: bounds a hung run; the call's own waits are on its clock
        while waited < patience and not _ended(call):
            finals = call.events(ev.TranscriptFinal)[heard_before:]
            if finals:
                break
            await _idle(call, STEP_S)
            waited += STEP_S
        finals = call.events(ev.TranscriptFinal)[heard_before:]
        if not finals:
            return None
        answer = await _reply_to(call, io, finals[-1].turn, patience, timeout)
        later = call.events(ev.TranscriptFinal)[heard_before:]
        if later and later[-1].turn != finals[-1].turn:  # a tail of the same words was heard while it answered
            answer = await _reply_to(call, io, later[-1].turn, patience, timeout)
        return answer


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
