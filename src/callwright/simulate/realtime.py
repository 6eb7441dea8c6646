"""Real-time mode: the simulator dials the agent under test over a real transport, at a call's pace.

It tests any agent that speaks Callwright's native WebSocket protocol or Twilio Media Streams,
whether built with Callwright or not. The caller is the same as in fast voice mode (the scripted
caller, the persona's voice, the case's acoustic environment), but its audio goes out on the wire
20 ms at a time on the real clock (:mod:`.handset`), the line keeps sending silence or the case's
noise between utterances as a phone does, and the agent's audio is recorded as the caller's phone
played it.

**What is judged, and from what.** An agent that reports its turns (over the native protocol,
``agent.turn`` events: every Callwright agent) is judged as fast voice mode judges it, from its
events: what it said, the tools it called, escalations, forms, texts, what it heard (WER). An agent
that does not (anything over Twilio, whose Media Streams carry audio only) is judged on what the
caller *heard*: each reply's audio is transcribed by our recogniser (``stt``; by default the one
``callwright run`` would use, from the settings) and ``says``, ``says_any``, ``not_says``,
``starts_with_any``, ``silent`` and ``never_says`` are judged on that transcript; ``ends`` on the
connection closing; ``escalates`` over Twilio on the ``<Dial>`` that the ``<Connect action>``
answers once the stream closes. The checks that need the agent's events (``tool``, ``misheard``,
``emotion``, ``form``, ``sms`` ...) are listed in the result's ``unjudged``, never passed in
silence; ``state`` (read through the agent's tools in-process) is always unjudged here.

**Time.** The end of an agent's turn is :data:`END_SILENCE_S` of nothing voiced played after it
began (and, for an agent that reports its turns, its ``agent.turn``). Latency is as the caller
hears it: from the end of the caller's voiced audio to the first voiced sample of the reply
played by the phone. Times are the real clock's.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import numpy as np

from .. import events as ev
from ..audio.pcm import Pcm
from ..audio.resample import resample
from ..clock import MonotonicClock, offload
from ..testing.conversations import EndExpect, Failure, Transcript, TurnExpect, end_problems, turn_problems
from .acoustics import render
from .callers import ScriptedCaller
from .handset import NativeHandset, Protocol_, TwilioHandset, dial
from .judge import wer
from .runner import MAX_TURNS
from .scenario import Case, Persona, Scenario
from .timeline import moments
from .utterance import Utterance, speak
from .voicecall import HeardTurn, Line, VoiceResult, _background, _judge_budgets, voice_skips

T = TypeVar("T")
END_SILENCE_S = 0.6  # the agent's turn is over when nothing voiced has played for this long
IDLE_S = 0.1  # what the line sends at a time while the caller waits
SEGMENT_GAP_S = 0.3  # a reply is transcribed in pieces cut at pauses this long (once a piece is 4 s)
TIMEOUT_S = 180.0

# Expectations that need the agent's events, and their values when not set.
TURN_EVENT_CHECKS: dict[str, Any] = {
    "escalates": None, "tool": None, "no_tool": False, "misheard": None, "emotion": None, "emotion_not": [], "style_not": [],
}
END_EVENT_CHECKS: dict[str, Any] = {"escalates": None, "tools": [], "not_tools": [], "form": {}, "sms": None, "misheard": None}


@dataclass
class RealtimeResult(VoiceResult):
    """A real-time case: a voice result, and where and how it was judged."""

    target: str = ""
    protocol: str = ""
    replies_from: str = "audio"  # "events": the agent reported its turns; "audio": our STT on what the caller heard

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"target": self.target, "protocol": self.protocol, "replies_from": self.replies_from}


async def run_realtime(
    case: Case, target: str, *, protocol: Protocol_ = "twilio", stt: Any = None, recording: Path | None = None,
    timeout: float = TIMEOUT_S, token: str | None = None,
) -> RealtimeResult:
    """``case`` as a real call to the agent at ``target`` over ``protocol`` (see the module docstring).

    ``target``: over Twilio the agent's voice webhook (``http://host:port/twilio/voice``; a bare
    ``http://host:port`` means that path) or its Media Stream URL (``ws://...``); over the native
    protocol its WebSocket (``ws://host:port/ws``, or the bare ``http://host:port``). ``stt``
    transcribes the agent's replies when it does not report them (default: built from the
    settings, once). ``token``: the native server's token. ``recording``: a stereo WAV, caller
    left and agent right as the phone played it, at the line's rate. A call not over within
    ``timeout`` seconds fails (check ``call``); an agent that cannot be dialled raises
    :class:`~callwright.simulate.handset.DialError`.
    """
    scenario = case.scenario
    result = RealtimeResult(case, "realtime", Transcript(case.name, scenario.safety), target=target, protocol=protocol)
    started = time.perf_counter()  # wall time, meant: real-time mode runs at a call's real pace
    phone = await dial(target, protocol, scenario.phone, token=token)
    background = await offload(_background, scenario, case.seed)
    line = _Talk(phone, Line(background.audio if phone.rate == 16000 else resample(background.audio, 16000, phone.rate)), stt)
    try:
        with anyio.fail_after(timeout):  # real time, meant: the agent under test is called in real time
            async with phone:
                await _converse(result, line)
    except TimeoutError:
        result.transcript.failures.append(Failure(case.name, None, "call", f"the call was not over within {timeout:g} s"))
    result.virtual_s = line.clock.now() - line.t0
    result.timeline = moments(phone.events())
    _judge_ending(result, line)
    if recording is not None:
        line.write(recording)
    result.real_s = time.perf_counter() - started  # wall time, meant (see above)
    return result


async def _converse(result: RealtimeResult, line: _Talk) -> None:
    """The call itself: the greeting, then the scripted caller's turns, each judged as it ends."""
    case, phone = result.case, line.phone
    scenario = case.scenario
    persona = scenario.persona or Persona()
    voice = persona.sounding()
    failures = result.transcript.failures
    line.t0 = line.clock.now()
    greeting = await line.listen(line.t0, persona.patience_s, lambda: line.turn_reported(0))
    reply = await line.text_of(greeting, 0) if greeting is not None else ""
    if reply:
        result.transcript.exchanges.append(("", reply))
    caller = ScriptedCaller(scenario)
    events: list[ev.Event] = phone.events()
    number = 0
    while (step := caller.next(reply, events)) is not None and result.turns < MAX_TURNS:
        if phone.closed:
            if step.say is not None or step.dtmf is not None:
                failures.append(Failure(case.name, result.turns + 1, "call", "the call had already ended"))
            break
        if step.silence_s:
            await line.idle(step.silence_s)
        result.skipped += voice_skips(step)
        if step.web is not None:
            continue
        before = len(phone.events())
        if step.dtmf is not None:
            for key in step.dtmf:
                await phone.press(key)
                await line.idle(0.15)
            said, spoken_end = f"[keys {step.dtmf}]", line.clock.now()
        elif step.say is not None:
            number += 1
            utterance = await line.meanwhile(partial(offload, partial(speak, step.say, voice, seed=case.seed + number)))
            spoken_end = await line.say(utterance, scenario, case.seed + number)
            said = step.say
        else:
            if step.hangup:
                await phone.hang_up()
                break
            continue
        result.turns += 1
        answer = await line.listen(spoken_end, persona.patience_s, partial(line.answer_reported, before))
        if answer is None and step.say is not None and not phone.closed:
            # no answer: a caller says it again, once, as people do on a bad line
            number += 1
            spoken_end = await line.say(utterance, scenario, case.seed + number)
            said = f"{step.say}  [said again after {persona.patience_s:g} s of nothing]"
            answer = await line.listen(spoken_end, persona.patience_s, partial(line.answer_reported, before))
        reply = await line.text_of(answer, before) if answer is not None else ""
        events = phone.events()[before:]
        reported = line.reports_turns()
        heard = " ".join(e.text for e in events if isinstance(e, ev.TranscriptFinal)) if reported else ""
        if step.say is not None:
            result.heard.append(HeardTurn(
                meant=utterance.text, heard=heard, wer=wer(utterance.text, heard) if reported else None,
                latency_ms=round((answer[0] - spoken_end) * 1000, 1) if answer is not None else None,
            ))
        result.transcript.exchanges.append((f"{said}  (heard: {heard or '-'})" if reported else said, reply))
        line.replies.append(reply)
        for check, detail in await line.turn_problems(step.expect, reply, events, result.turns):
            failures.append(Failure(case.name, result.turns, check, detail))
        latency = result.heard[-1].latency_ms if step.say is not None else None
        if step.latency_ms is not None and (latency is None or latency > step.latency_ms):
            failures.append(Failure(case.name, result.turns, "latency_ms", f"{latency} ms, at most {step.latency_ms:g}"))
        result.unjudged += line.unjudged_turn(step.expect, result.turns)
        if step.hangup:
            await phone.hang_up()
            break
    result.replies_from = "events" if line.reports_turns() else "audio"
    for check, detail in await line.end_problems(scenario.expect):
        failures.append(Failure(case.name, None, check, detail))


def _judge_ending(result: RealtimeResult, line: _Talk) -> None:
    """What is judged once the call is over, whatever the transport."""
    scenario, failures = result.case.scenario, result.transcript.failures
    expect = scenario.expect
    if expect.turns_max is not None and result.turns > expect.turns_max:
        failures.append(Failure(result.case.name, None, "turns_max", f"{result.turns} turns, at most {expect.turns_max}"))
    _judge_budgets(result, failures)
    result.unjudged += line.unjudged_end(expect)
    if expect.state:
        result.unjudged.append(f"state: {len(expect.state)} checks read through the agent's tools in-process, not over a {line.phone.transport} target")


class _Talk:
    """The caller's side of the live line: what it sends while it waits, how it listens, and what it
    can know about the agent over this transport."""

    def __init__(self, phone: TwilioHandset | NativeHandset, line: Line, stt: Any) -> None:
        self.phone = phone
        self.line = line
        self.stt = stt
        self.clock = MonotonicClock()
        self.t0 = self.clock.now()
        self.sent: list[tuple[float, Pcm]] = []  # the caller's utterances as they left
        self.replies: list[str] = []
        self.handed_to: str | None = None

    # ------------------------------------------------------------------ the line
    async def idle(self, seconds: float) -> None:
        """``seconds`` of the caller being quiet: the line keeps sending frames, as a phone does."""
        if self.phone.closed:
            await self.clock.sleep_until(self.clock.now() + seconds)
            return
        await self.phone.send(self.line.take(round(seconds * self.phone.rate)))

    async def meanwhile(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` while the line stays open (synthesis and recognition take real time)."""
        done = anyio.Event()
        out: list[T] = []

        async def keep_sending() -> None:
            while not done.is_set():
                await self.idle(IDLE_S)

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_sending)
            try:
                out.append(await work())
            finally:
                done.set()
        return out[0]

    async def say(self, utterance: Utterance, scenario: Scenario, seed: int) -> float:
        """Say ``utterance`` through the case's environment; return when its voiced audio ended (as spoken)."""
        pcm = await self.meanwhile(partial(offload, _through_line, utterance.pcm, utterance.sample_rate, scenario, seed, self.phone.rate))
        begin = self.clock.now()
        self.sent.append((begin, pcm))
        await self.phone.send(pcm)
        return begin + utterance.duration_s

    async def listen(self, since: float, patience: float, reported: Callable[[], bool]) -> tuple[float, float] | None:
        """The agent's turn after ``since``: when its first voiced sample played and when its last
        voiced frame ended; None after ``patience`` seconds of nothing (or a closed line)."""
        playback = self.phone.playback
        while True:
            self.phone.sync()
            now = self.clock.now()
            first = playback.first_voiced(since)
            if first is not None:
                last = max(first, playback.last_voiced_end() or first)
                quiet = now - last
                if self.phone.closed or (quiet >= END_SILENCE_S and (reported() or quiet >= patience)):
                    return first, last
            elif self.phone.closed or now - since >= patience:
                return None
            await self.idle(IDLE_S)

    # ------------------------------------------------------------------ what the agent reports
    def reports_turns(self) -> bool:
        """Whether the agent tells its turns (``agent.turn``): a Callwright agent over the native protocol."""
        return any(isinstance(e, ev.AgentTurn) for e in self.phone.events())

    def turn_reported(self, turn: int) -> bool:
        """The agent's turn ``turn`` is reported, or the agent reports none (then the audio decides)."""
        events = self.phone.events()
        return not any(isinstance(e, ev.AgentTurn) for e in events) or any(
            isinstance(e, ev.AgentTurn) and e.turn == turn for e in events
        )

    def answer_reported(self, before: int) -> bool:
        """The agent's answer to what it heard since event ``before`` is reported (its last transcript's turn)."""
        finals = [e for e in self.phone.events()[before:] if isinstance(e, ev.TranscriptFinal)]
        return not finals or self.turn_reported(finals[-1].turn)

    async def text_of(self, reply: tuple[float, float], before: int) -> str:
        """What the agent said in ``reply``: its own ``agent.turn`` when it reports one, else what the
        caller heard, transcribed."""
        events = self.phone.events()[before:]
        finals = [e.turn for e in events if isinstance(e, ev.TranscriptFinal)]
        turns = [e for e in events if isinstance(e, ev.AgentTurn)]
        told = next((e for e in turns if finals and e.turn == finals[-1]), turns[-1] if turns else None)
        if told is not None:
            return told.text
        return await self.transcribe(*reply)

    async def transcribe(self, start: float, end: float) -> str:
        """What played from ``start`` to ``end``, by our recogniser, in pieces cut at pauses."""
        if self.stt is None:
            self.stt = await self.meanwhile(default_stt)
        pieces = []
        for a, b in _segments(self.phone.playback.voiced, start, end):
            pcm = self.phone.playback.between(a - 0.1, b + 0.15)
            got = await self.meanwhile(partial(self.stt.transcribe, pcm, self.phone.rate))
            pieces.append(_as_heard(got.text))
        return " ".join(p for p in pieces if p)

    # ------------------------------------------------------------------ judging
    async def _transfers(self) -> list[ev.Event]:
        """A transfer seen from outside (Twilio's ``<Dial>`` after the stream), as an event to judge."""
        if self.handed_to is None and self.phone.closed and isinstance(self.phone, TwilioHandset):
            self.handed_to = await self.phone.handed_to()
        return [ev.Transfer(to=self.handed_to, reason="dialled after the stream")] if self.handed_to else []

    def _sees_transfers(self) -> bool:
        return isinstance(self.phone, TwilioHandset) and bool(self.phone.peer.action_url)

    def _hidden(self, checks: dict[str, Any]) -> dict[str, Any]:
        """The checks this line cannot judge, with their unset values."""
        if self.reports_turns():
            return {}
        return {k: v for k, v in checks.items() if not (k == "escalates" and self._sees_transfers())}

    async def turn_problems(self, expect: TurnExpect, reply: str, events: list[ev.Event], turn: int) -> list[tuple[str, str]]:
        hidden = self._hidden(TURN_EVENT_CHECKS)
        if not hidden:
            return turn_problems(expect, reply, events, self.phone.closed)
        seen = await self._transfers() if "escalates" not in hidden else []
        return turn_problems(expect.model_copy(update=hidden), reply, seen, self.phone.closed)

    def unjudged_turn(self, expect: TurnExpect, turn: int) -> list[str]:
        return [f"{name} (turn {turn}): {self._why()}" for name, unset in self._hidden(TURN_EVENT_CHECKS).items() if getattr(expect, name) != unset]

    async def end_problems(self, expect: EndExpect) -> list[tuple[str, str]]:
        hidden = self._hidden(END_EVENT_CHECKS)
        if not hidden:
            return end_problems(expect, self.replies, self.phone.events())
        seen = await self._transfers() if "escalates" not in hidden else []
        return end_problems(expect.model_copy(update=hidden), self.replies, seen)

    def unjudged_end(self, expect: EndExpect) -> list[str]:
        return [f"{name}: {self._why()}" for name, unset in self._hidden(END_EVENT_CHECKS).items() if getattr(expect, name) != unset]

    def _why(self) -> str:
        if self.phone.transport == "twilio":
            return "needs the agent's events: Twilio Media Streams carry audio only"
        return "needs the agent's events: this agent reported no agent.turn"

    # ------------------------------------------------------------------ recording
    def write(self, path: Path) -> None:
        """Caller left, agent right (as the phone played it), at the line's rate, from the dial."""
        import soundfile

        rate = self.phone.rate
        self.phone.sync()
        end = max([self.clock.now(), self.phone.playback.end, *(at + pcm.size / rate for at, pcm in self.sent)])
        total = int((end - self.t0 + 0.5) * rate)
        track = np.zeros((total, 2), dtype=np.int16)
        for at, pcm in self.sent:
            start = int((at - self.t0) * rate)
            stop = min(total, start + pcm.size)
            if 0 <= start < total:
                track[start:stop, 0] = pcm[: stop - start]
        track[:, 1] = self.phone.playback.between(self.t0, self.t0 + total / rate)[:total]
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), track, rate, subtype="PCM_16")


def _through_line(pcm: Pcm, rate: int, scenario: Scenario, seed: int, out_rate: int) -> Pcm:
    """The caller's audio as their line delivers it, at the handset's rate (a phone channel's
    8 kHz μ-law is sent to Twilio as it is)."""
    if scenario.environment is not None:
        rendered = render(pcm, rate, scenario.environment, seed=seed)
        pcm, rate = rendered.audio, rendered.sample_rate
    return resample(pcm, rate, out_rate).astype(np.int16)


def _as_heard(text: str) -> str:
    """A recogniser's writing of a piece of speech, as a listener has it: without the quotation marks
    that moonshine puts around some pieces, and whole hours as said ("10:00 at night" is "ten at night")."""
    text = re.sub(r"^[\s\"']+|[\s\"']+$", "", text)
    return re.sub(r"\b(\d{1,2}):00\b", r"\1", text)


def _segments(voiced: list[float], start: float, end: float) -> list[tuple[float, float]]:
    """The voiced stretches of ``start`` .. ``end``, cut at pauses of :data:`SEGMENT_GAP_S` once a
    piece is 4 s long (a recogniser does best on a phrase or a sentence at a time)."""
    frames = voiced[bisect.bisect_left(voiced, start) : bisect.bisect_left(voiced, end)]
    if not frames:
        return []
    pieces = [[frames[0], frames[0] + 0.02]]
    for t in frames[1:]:
        if t - pieces[-1][1] >= SEGMENT_GAP_S and pieces[-1][1] - pieces[-1][0] >= 4.0:
            pieces.append([t, t + 0.02])
        else:
            pieces[-1][1] = t + 0.02
    return [(a, b) for a, b in pieces]


@cache
def _built_stt() -> Any:
    from ..engines.registry import build_stt
    from ..settings import Settings

    stt = build_stt(Settings.load().stt)
    warm = getattr(stt, "warm", None)
    if warm is not None:
        anyio.run(warm)  # in this worker thread's own loop, as ``server.warm`` does
    return stt


async def default_stt() -> Any:
    """The recogniser ``callwright run`` would use (``CALLWRIGHT_STT``), built and warmed once."""
    return await offload(_built_stt)
