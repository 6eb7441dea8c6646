"""One live conversation.

A :class:`Call` owns four sibling tasks under one task group:

* **hear**: caller audio -> VAD -> endpointing (on audio time) -> finished segments; barge-in.
* **think**: segment -> STT -> ``Agent.respond`` -> sentences -> TTS -> the playout queue.
  Each reply runs in its own cancel scope, so a barge-in cancels thinking and speaking at once.
* **play**: releases agent audio in 20 ms frames on the clock and moves the playback cursor.
* **watch**: ends the call on idle timeout or maximum duration.

When the call ends (hang-up, vanished client, timeout) the task group is cancelled, and by the
time :meth:`Call.run` returns every task it started has finished.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, get_args, runtime_checkable

import anyio
import numpy as np
from anyio.abc import TaskGroup

from .. import events as ev
from ..agent.base import Act, Agent, Context, Hangup, Listen, Say, Style, TransferCall, Turn
from ..agent.shaping import SentenceSplitter, speakable
from ..agent.text import normalise, words
from ..audio.pcm import LISTEN_RATE, Pcm
from ..audio.resample import Resampler
from ..clock import Clock, MonotonicClock, TimedOut, use_clock, within
from ..engines.base import SpeechToText, TextToSpeech, VoiceActivityDetector, VoiceStyle
from ..engines.resilient import ResilientStt, ResilientTts, RetryPolicy
from ..errors import AgentError, CallwrightError, EngineError
from .echo import EchoReference, echo_ratio
from .endpointing import Discarded, Endpointer, Onset, Resume, Segment, Stop, TurnTaking
from .playback import Playout, TurnAudio

# A listener's acknowledgements, as words(normalise(...)) cuts them ("mm-hmm" is "mm", "hmm"). Not a shared list: the
# agent's stop words (intents, knowledge) and pleasantries (emotion) hold "no", "please", "thanks", which interrupt.
BACKCHANNELS = frozenset("mm mhm mmhmm uhhuh uh huh hmm hm okay ok yeah yep yes right sure aha ah oh i see got it alright".split())
# A hum, however the recogniser spells it: "mm-hmm" comes back as "M. M. M.", "Mmm", "Hm-hm", "Uhh".
_HUM = re.compile(r"[mh]+|u+h+|a+h+|o+h+|u+m+|e+r*m+")


@dataclass(frozen=True, slots=True)
class BargeInOptions:
    """When caller sound during agent speech stops the agent.

    Sound shorter than ``min_speech_ms`` never interrupts. Longer sound is checked against the
    agent's own audio (echo) and, when ``min_words`` > 0, transcribed: a turn made only of
    backchannels ("mm-hmm", "okay") or with fewer than ``min_words`` words does not interrupt.
    The words are read when the sound ends or when it reaches ``confirm_ms``, whichever is first:
    a backchannel is short and is heard whole; a real interruption goes on and is decided early.
    """

    enabled: bool = True
    min_speech_ms: int = 300
    confirm_ms: int = 900
    min_confidence: float = 0.8  # a short (< 3 words), unsure transcript is a murmur, not an interruption
    min_words: int = 1
    backchannels: frozenset[str] = BACKCHANNELS
    echo_check: bool = True
    echo_residual_max: float = 0.35
    max_echo_delay_ms: int = 1000


@dataclass(frozen=True, slots=True)
class CallOptions:
    turn_taking: TurnTaking = field(default_factory=TurnTaking)
    barge_in: BargeInOptions = field(default_factory=BargeInOptions)
    idle_timeout_s: float = 60.0
    max_duration_s: float = 1800.0
    partial_every_ms: int = 0  # 0: no interim transcripts
    lead_ms: int = 60
    ingress_frames: int = 250  # 5 s of 20 ms frames; beyond that the oldest audio is dropped
    fallback_line: str = "Sorry, I had a problem there. Could you say that again?"


@dataclass(frozen=True, slots=True)
class Engines:
    """The engines a call uses. Each call wraps STT and TTS with retries, timeouts and the fallback."""

    stt: SpeechToText
    tts: TextToSpeech
    vad: VoiceActivityDetector
    stt_fallback: SpeechToText | None = None
    tts_fallback: TextToSpeech | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class CallIO(Protocol):
    """What a transport offers a call. All methods queue and return at once, in order."""

    input_rate: int
    output_rate: int

    def send_audio(self, pcm: Pcm) -> None: ...

    def send_event(self, event: ev.Event) -> None: ...

    def clear(self) -> None: ...

    def send_mark(self, name: str) -> None: ...


@runtime_checkable
class SupportsTransfer(Protocol):
    """A transport that can hand its call to a person (an optional part of :class:`CallIO`)."""

    def transfer(self, to: str, summary: str = "") -> bool:
        """Queue the hand-over to ``to`` (E.164, ``+15551230000``) and return at once; ``summary`` is
        said to the person who answers before the caller is connected. Called after the last words
        to the caller were handed to ``send_audio``.

        Return True when the transport ends the call itself once the line is handed over (a phone
        line: after the audio sent so far has played), False when the call should end now (no line
        to hand over: the client learns of the transfer from the ``transfer`` event).
        """
        ...


EventSink = Callable[[ev.Event], None]
log = logging.getLogger("callwright.call")
_TRANSPORTS = get_args(ev.Transport)
_TURN_SOURCES = get_args(ev.TurnSource)
_END_REASONS = get_args(ev.EndReason)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    """A value for a ``Literal`` event field, checked where it enters the call: a wrong one fails
    in the caller's hands, not later when an event is built from it."""
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of: {', '.join(allowed)}")


def _as_engine_error(exc: Exception, engine: str) -> CallwrightError:
    if isinstance(exc, CallwrightError):
        return exc
    log.warning("engine %s failed", engine, exc_info=exc)
    return EngineError(f"{type(exc).__name__}: {exc}", engine=engine)


def _as_agent_error(exc: Exception, agent: str) -> CallwrightError:
    """A bug in the agent is the agent's (code ``agent``); an error it lets through keeps its own
    category (an engine failure of its language model stays ``engine``)."""
    if isinstance(exc, CallwrightError):
        return exc
    log.warning("agent %s failed", agent, exc_info=exc)
    return AgentError(f"{type(exc).__name__}: {exc}", agent=agent)


@dataclass(slots=True)
class _Heard:
    segment: Segment
    speech_end_at: float  # clock time the caller stopped speaking
    endpoint_at: float


@dataclass(frozen=True, slots=True)
class _Typed:
    text: str
    source: ev.TurnSource = "text"
    at: float = 0.0  # clock time it arrived: latency is measured from here
    data: dict[str, str] | None = None
    confidence: float = 1.0  # typed text is certain; a test may say how sure a recogniser would have been


@dataclass(frozen=True, slots=True)
class _Greeting:
    text: str


async def _said(text: str) -> AsyncIterator[Act]:
    """The greeting as an agent's acts: it is composed like any reply."""
    yield Say(text)


@dataclass(slots=True)
class _Reply:
    turn: int
    audio: TurnAudio
    speech_end_at: float | None
    recorded: bool = False
    first_audio_sent: bool = False
    first_mark: str | None = None  # the mark after the reply's first frame, until the client confirms it
    planned: list[str] = field(default_factory=list)


class Call:
    def __init__(
        self,
        agent: Agent,
        engines: Engines,
        io: CallIO,
        *,
        options: CallOptions | None = None,
        clock: Clock | None = None,
        call_id: str | None = None,
        caller: str | None = None,
        transport: ev.Transport = "websocket",
        sinks: Sequence[EventSink] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        _check(transport, _TRANSPORTS, "Call: transport")
        self.id = call_id or uuid.uuid4().hex[:16]
        self.agent = agent
        self.engines = engines
        self.io = io
        self.options = options or CallOptions()
        self.clock = clock or MonotonicClock()
        self.caller = caller
        self.transport = transport
        self.metadata = dict(metadata or {})  # what the client said about the call (call.start.metadata)
        self.context = Context(caller=caller, call_id=self.id, emit=self.emit, metadata=dict(self.metadata), clock=self.clock)
        self.transfer_to: str | None = None
        self.transfer_summary = ""  # the whisper for the person who takes the call
        self._style: VoiceStyle | None = None
        self.sinks = list(sinks)
        self.end_reason: ev.EndReason | None = None
        self.dropped_frames = 0
        self.events: list[ev.Event] = []  # the call's own trace, in order

        self._seq = itertools.count(1)
        self._started = self.clock.now()
        self._tg: TaskGroup | None = None
        # Each frame with the clock time it arrived: the audio timeline is mapped to the clock from it.
        self._audio_tx, self._audio_rx = anyio.create_memory_object_stream[tuple[Pcm, float]](self.options.ingress_frames)
        self._turns_tx, self._turns_rx = anyio.create_memory_object_stream[_Heard | _Typed | _Greeting](16)
        self._stt = ResilientStt(engines.stt, engines.stt_fallback, policy=engines.policy, clock=self.clock, on_error=self._engine_failed)
        self._tts = ResilientTts(engines.tts, engines.tts_fallback, policy=engines.policy, clock=self.clock, on_error=self._engine_failed)
        self._resample_in = Resampler(io.input_rate, LISTEN_RATE)
        self._endpointer = Endpointer(engines.vad.stream(), self.options.turn_taking, LISTEN_RATE)
        self._playout = Playout(io.output_rate, lead_ms=self.options.lead_ms)
        self._echo = EchoReference(io.output_rate)
        self._input_samples = 0
        self._turn_index = 0
        self._reply: _Reply | None = None
        self._response_scope: anyio.CancelScope | None = None
        self._pending_user_text = ""  # a turn answered by nothing yet, merged into the next one
        self._hangup_after: str | None = None
        self._last_activity = self._started
        self._speech_end: tuple[float, float] | None = None  # (audio ms, clock time)
        self._candidate = "none"  # none | speech (not echo, words unknown) | pending (STT running) | accepted
        self._hear_tg: TaskGroup | None = None
        self._held: _Heard | None = None
        self._recheck_ms = 0.0  # voiced ms after which an undecided barge-in is checked again
        self._partial_busy = False
        self._last_partial_ms = 0.0

    # ---------------------------------------------------------------- transport-facing API (sync)
    def push_audio(self, pcm: Pcm) -> None:
        """Caller audio at ``io.input_rate``, pushed as it arrives (its last sample was just captured).

        Never blocks: when the call falls behind, the oldest audio is dropped.
        """
        frame = (pcm, self.clock.now())
        try:
            self._audio_tx.send_nowait(frame)
        except anyio.WouldBlock:
            try:
                self._audio_rx.receive_nowait()
            except anyio.WouldBlock:
                pass
            self.dropped_frames += 1
            self._audio_tx.send_nowait(frame)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def push_text(self, text: str, source: ev.TurnSource = "text", *, confidence: float = 1.0) -> None:
        """A caller turn that arrived as text (typed, or DTMF digits).

        ``confidence`` stands in for a recogniser's: tests of what an agent does with a turn it may
        have misheard type the turn with the confidence speech would have had. A ``source`` that is
        not a :data:`~callwright.events.TurnSource` raises ``ValueError`` here.
        """
        _check(source, _TURN_SOURCES, "Call.push_text: source")
        self._last_activity = self.clock.now()
        try:
            self._turns_tx.send_nowait(_Typed(text, source, self.clock.now(), confidence=confidence))
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.emit(ev.ErrorEvent(code="busy", message="caller text dropped: the call is still busy with earlier turns"))

    def push_form_value(self, form: str, field: str, value: str) -> None:
        """A value the caller gave outside the call (a web form they were texted a link to)."""
        self._last_activity = self.clock.now()
        try:
            self._turns_tx.send_nowait(_Typed(value, "web", self.clock.now(), {"form": form, "field": field, "value": value}))
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.emit(ev.ErrorEvent(code="busy", message=f"form value for {form}.{field} dropped: the call is busy"))

    def mark_played(self, name: str) -> None:
        """The client reports that the audio before mark ``name`` has played (a phone line's ``mark``, the native ``audio.mark``)."""
        self._playout.acknowledge(name)
        reply = self._reply
        if reply is None or reply.first_mark != name:
            return
        reply.first_mark = None
        # A mark echoed because the client dropped its buffer (a barge-in) confirms nothing.
        if reply.speech_end_at is not None and self._playout.current is reply.audio:
            self._latency(reply.turn, "voice_to_voice", self.clock.now(), reply.speech_end_at)

    def hangup(self, reason: ev.EndReason = "hangup") -> None:
        """End the call. Safe to call from anywhere, any number of times.

        ``reason`` becomes ``call.ended``'s; one that is not an :data:`~callwright.events.EndReason`
        raises ``ValueError`` here, before anything changes (the call goes on).
        """
        _check(reason, _END_REASONS, "Call.hangup: reason")
        if self.end_reason is None:
            self.end_reason = reason
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    @property
    def ending(self) -> bool:
        """The call is over or will end once the agent's last words have played (a hang-up, a transfer)."""
        return self.end_reason is not None or self._hangup_after is not None

    @property
    def elapsed_ms(self) -> float:
        return (self.clock.now() - self._started) * 1000

    def emit(self, event: ev.Event) -> ev.Event:
        event = event.model_copy(update={"call_id": self.id, "seq": next(self._seq), "t_ms": round(self.elapsed_ms, 3)})
        self.events.append(event)
        for sink in self.sinks:
            sink(event)
        self.io.send_event(event)
        return event

    # ---------------------------------------------------------------- lifecycle
    async def run(self) -> ev.CallEnded:
        """Run the call until it ends; every task it started has finished when this returns.

        Its clock is the current one for those tasks (:func:`~callwright.clock.use_clock`), so the
        compute they offload (inference, the agent's ranker) is on it.
        """
        with use_clock(self.clock):
            return await self._run()

    async def _run(self) -> ev.CallEnded:
        o = self.options
        self.emit(
            ev.CallStarted(
                greeting=bool(self.agent.greeting(self.context)),
                transport=self.transport,
                input_sample_rate=self.io.input_rate,
                output_sample_rate=self.io.output_rate,
                agent=self.agent.name,
                caller=self.caller,
                metadata=self.metadata,
                idle_timeout_s=o.idle_timeout_s,
                max_duration_s=o.max_duration_s,
            )
        )
        try:
            greeting = None
            try:
                with anyio.fail_after(10):  # real time: guards against user code that hangs, not call pacing
                    greeting = await self.agent.open(self.context)
            except Exception as exc:  # the agent is user code: start the call anyway
                self._record_error(_as_agent_error(exc, self.agent.name), "agent")
            if greeting:
                self._turns_tx.send_nowait(_Greeting(greeting))
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self.context.background = tg
                if self.end_reason is not None:
                    tg.cancel_scope.cancel()
                tg.start_soon(self._hear, tg)
                tg.start_soon(self._think)
                tg.start_soon(self._play)
                tg.start_soon(self._watch)
        except Exception as exc:  # a bug in a task: record it, end the call, re-raise for the server log
            self.end_reason = "error"
            self.emit(ev.ErrorEvent(code="internal", message=f"{type(exc).__name__}: {exc}", fatal=True))
            raise
        finally:
            self._tg = self.context.background = None
            for stream in (self._audio_tx, self._audio_rx, self._turns_tx, self._turns_rx):
                stream.close()
            with anyio.CancelScope(shield=True):
                self._record_cut_reply()
                with anyio.move_on_after(2):  # real time: a connection that will not close must not hold the call
                    await self.agent.aclose()
                ended = ev.CallEnded(reason=self.end_reason or "hangup", duration_ms=round(self.elapsed_ms, 3), dropped_frames=self.dropped_frames)
                recorded = self.emit(ended)
        assert isinstance(recorded, ev.CallEnded)
        return recorded

    async def _watch(self) -> None:
        o = self.options
        end_at = self._started + o.max_duration_s
        while True:
            idle_at = self._last_activity + o.idle_timeout_s
            now = self.clock.now()
            if now >= end_at:
                self.hangup("max_duration")
                return
            if now >= idle_at:
                if self._playout.speaking(now) or self._endpointer.in_speech or self._response_scope is not None:
                    self._last_activity = now
                else:
                    self.hangup("idle_timeout")
                    return
            await self.clock.sleep_until(min(end_at, self._last_activity + o.idle_timeout_s, now + 1.0))

    # ---------------------------------------------------------------- hear
    async def _next_audio(self) -> tuple[Pcm, float]:
        """The next frame of caller audio and the clock time it arrived, or silence standing in for a
        stalled stream mid-turn.

        Listening runs on audio time, but a client that stops sending (a muted microphone, a
        push-to-talk release) must not leave a turn open forever: when nothing arrives for twice the
        endpoint pause while the caller is mid-turn, that much silence is fed in its place.
        """
        ep = self._endpointer
        if not ep.in_speech:
            return await self._audio_rx.receive()
        gap_s = 2 * ep.options.endpoint_silence_ms * ep.patience / 1000
        # The gap is on the call's clock: a caller on virtual time (fast mode) sends its audio on that
        # time, and the real time its driver spends waiting for compute is no gap in the audio.
        frame = await within(self.clock, gap_s, self._audio_rx.receive)
        if not isinstance(frame, TimedOut):
            return frame
        return np.zeros(int(gap_s * self.io.input_rate), dtype=np.int16), self.clock.now()

    async def _hear(self, tg: TaskGroup) -> None:
        self._hear_tg = tg
        ep = self._endpointer
        while True:
            try:
                pcm, arrived_at = await self._next_audio()
            except anyio.EndOfStream:
                return
            arrived = self.clock.now()  # when it is heard: later than arrived_at if the call fell behind
            audio = self._resample_in(pcm)
            self._input_samples += audio.size
            end_ms = self._input_samples * 1000 / LISTEN_RATE
            for event in ep.feed(audio):
                if isinstance(event, Onset):
                    self._last_activity = arrived
                    self._candidate = "none"
                    self._recheck_ms = 0.0
                    self.emit(ev.SpeechStarted(audio_ms=round(event.audio_ms, 1)))
                elif isinstance(event, Resume):
                    self.emit(ev.SpeechStarted(audio_ms=round(event.audio_ms, 1)))
                elif isinstance(event, Stop):
                    # The last voiced sample, on the clock: when its frame arrived, less the audio after it.
                    self._speech_end = (event.audio_ms, arrived_at - (end_ms - event.audio_ms) / 1000)
                    self.emit(ev.SpeechStopped(audio_ms=round(event.audio_ms, 1)))
                elif isinstance(event, Discarded):
                    if self._agent_busy(arrived):
                        self.emit(ev.SpeechIgnored(reason="short", audio_ms=event.start_ms, speech_ms=event.speech_ms))
                elif isinstance(event, Segment):
                    self._on_segment(event, arrived)
            if ep.in_speech:
                self._last_activity = arrived
                self._check_barge_in(tg, arrived)
                self._maybe_partial(tg)

    def _agent_busy(self, now: float) -> bool:
        return self._playout.speaking(now)

    def _on_segment(self, segment: Segment, now: float) -> None:
        speech_end = self._speech_end[1] if self._speech_end else now
        heard = _Heard(segment, speech_end, now)
        if self._candidate == "pending":
            self._held = heard  # the barge-in check decides whether this is a turn
            return
        if self._candidate == "speech" and self._hear_tg is not None:
            # Ended before confirm_ms: transcribe all of it to tell a backchannel from a short request.
            self._candidate = "pending"
            self._held = heard
            self._hear_tg.start_soon(self._confirm_barge_in, segment.audio, segment.speech_ms)
            return
        if self._candidate == "none" and self._agent_busy(now):
            # Voiced but shorter than the barge-in threshold while the agent talked: a backchannel.
            self.emit(ev.SpeechIgnored(reason="short", audio_ms=segment.start_ms, speech_ms=segment.speech_ms))
            return
        if self._candidate == "none" and self._is_echo_tail(segment, now):
            # The tail of the agent's own voice, still coming back after it stopped talking.
            self.emit(ev.SpeechIgnored(reason="echo", audio_ms=segment.start_ms, speech_ms=segment.speech_ms))
            return
        self._submit(heard)

    def _is_echo_tail(self, segment: Segment, now: float) -> bool:
        """Whether a segment that began as the agent stopped is only its echo fading out.

        Echo can arrive at most ``max_echo_delay_ms`` after the agent's last audio, so only the part
        of the segment inside that window is checked, and only when little voiced audio lies beyond it
        (a caller who keeps talking past the window is a caller).
        """
        bi = self.options.barge_in
        last_sent = self._echo.last_sent_at
        if not bi.echo_check or last_sent is None:
            return False
        audio_s = segment.audio.size / LISTEN_RATE
        started_at = now - (self._endpointer.audio_ms - segment.start_ms) / 1000
        inside_s = last_sent + bi.max_echo_delay_ms / 1000 - started_at
        if inside_s <= 0 or audio_s - inside_s > bi.min_speech_ms / 1000:
            return False
        inside = segment.audio[: int(min(inside_s, audio_s) * LISTEN_RATE)]
        # An echo tail is echo from its very start: if the opening (pre-roll and onset) is not, this
        # is the caller, and the rest need not be searched.
        opening = inside[: int(0.4 * LISTEN_RATE)]
        if opening.size < inside.size and not self._is_echo(opening, now, since=started_at):
            return False
        return self._is_echo(inside, now, since=started_at)

    def _is_echo(self, mic: Pcm, now: float, since: float | None = None) -> bool:
        """Whether ``mic`` is the agent's own audio coming back. ``mic`` starts at clock ``since``
        (default: it ends now)."""
        bi = self.options.barge_in
        span = (now - since) if since is not None else mic.size / LISTEN_RATE
        if not bi.echo_check or not self._echo.active_within(now, span + bi.max_echo_delay_ms / 1000):
            return False
        window = span + bi.max_echo_delay_ms / 1000
        ratio = echo_ratio(mic, self._echo.window(now, window, LISTEN_RATE))
        log.debug("call %s: echo ratio %.3f over %.2f s", self.id, ratio, mic.size / LISTEN_RATE)
        return ratio < bi.echo_residual_max

    def _submit(self, heard: _Heard) -> None:
        self._endpointer.patience = 1.0  # patience was for this turn only
        try:
            self._turns_tx.send_nowait(heard)
        except anyio.WouldBlock:
            self.emit(ev.ErrorEvent(code="busy", message="caller turn dropped: the call is still busy with earlier turns"))

    def _check_barge_in(self, tg: TaskGroup, now: float) -> None:
        bi = self.options.barge_in
        ep = self._endpointer
        if self._candidate == "speech" and ep.speech_ms >= max(bi.confirm_ms, self._recheck_ms):
            self._candidate = "pending"
            tg.start_soon(self._confirm_barge_in, ep.current_audio(), ep.speech_ms)
            return
        if self._candidate != "none" or ep.speech_ms < max(bi.min_speech_ms, self._recheck_ms):
            return
        if not self._agent_busy(now):
            if self._response_scope is not None and self._reply is not None and not self._reply.audio.sent:
                # The caller went on talking before the agent said anything: answer the whole thing instead.
                self._candidate = "accepted"
                self._cancel_unspoken_reply()
                return
            if not self._reply_waiting():
                return
            # The agent said something (a filler) and waits for a tool: the caller talking now is an
            # interruption too; the words decide, as for a barge-in.
        if not bi.enabled:
            self._candidate = "accepted"  # not interruptible: the turn waits until the agent has finished
            return
        if bi.echo_check and self._agent_busy(now):
            if self._is_echo(ep.current_audio(last_ms=bi.min_speech_ms), now):
                self.emit(ev.SpeechIgnored(reason="echo", audio_ms=round(ep.audio_ms, 1), speech_ms=ep.speech_ms))
                ep.reset()  # judge what follows afresh: the caller may start talking as the echo fades
                self._candidate = "none"
                return
        if bi.min_words <= 0:
            self._candidate = "accepted"
            self._barge_in(ep.speech_ms)
            return
        self._candidate = "speech"  # not echo; the words decide at confirm_ms or when the sound ends

    async def _confirm_barge_in(self, audio: Pcm, speech_ms: float) -> None:
        bi = self.options.barge_in
        confidence: float | None = None
        try:
            result = await self._stt.transcribe(audio, LISTEN_RATE)
            said, confidence = words(normalise(result.text)), result.confidence  # counted as the agent reads the turn
        except Exception as exc:
            self._record_error(_as_engine_error(exc, self._stt.name), "barge_in")
            said = ["?"] * bi.min_words  # cannot tell: side with the caller, who is clearly talking
        real = [w for w in said if w not in bi.backchannels and not _HUM.fullmatch(w)]
        if len(real) < 3 and confidence is not None and confidence < bi.min_confidence:
            real = []
        if not said:
            # No words yet: cannot tell. Ask again with more audio, or, if the caller already
            # stopped, treat the whole utterance as a turn (the full transcript decides).
            self._candidate = "speech"
            self._recheck_ms = speech_ms + 300
            if self._held is not None:
                self._submit(self._held)
                self._held = None
            return
        if len(said) >= bi.min_words and real:
            self._candidate = "accepted"
            if self._agent_busy(self.clock.now()) or self._reply_waiting():
                self._barge_in(speech_ms)
            if self._held is not None:
                self._submit(self._held)
        else:
            self.emit(
                ev.SpeechIgnored(
                    reason="backchannel", audio_ms=round(self._endpointer.audio_ms, 1), speech_ms=speech_ms, text=" ".join(said)
                )
            )
            if self._held is None and self._endpointer.in_speech:
                self._endpointer.reset()  # the caller is still talking: what follows is judged afresh
            self._candidate = "none"
        self._held = None

    def _reply_waiting(self) -> bool:
        """A reply is under way, has spoken, and is silent now (waiting for a tool)."""
        reply = self._reply
        return (
            self._response_scope is not None and reply is not None and reply.audio.sent > 0
            and not reply.recorded and not self._playout.speaking(self.clock.now())
        )

    def _barge_in(self, speech_ms: float) -> None:
        """Stop the agent now: no further frame leaves, the client drops its buffer, the reply is cancelled."""
        stopped = self._playout.stop()
        self.io.clear()
        self.emit(ev.Clear())
        reply = self._reply
        if self._response_scope is not None:
            self._response_scope.cancel()
        if reply is None:
            return
        if stopped is None:
            if not reply.recorded and reply.audio.sent:  # all it said had played: that is what was heard
                heard = self._playout.heard(reply.audio)
                self.emit(ev.BargeIn(turn=reply.turn, heard_ms=round(heard * 1000 / self.io.output_rate, 1), heard_text=reply.audio.heard_text(heard), speech_ms=speech_ms))
                self._record_reply(reply, reply.audio.heard_text(heard), interrupted=True, audio_ms=heard * 1000 / self.io.output_rate)
            return
        self.emit(
            ev.BargeIn(
                turn=reply.turn, heard_ms=round(stopped.heard_ms, 1), heard_text=stopped.heard_text, speech_ms=speech_ms
            )
        )
        self._record_reply(reply, stopped.heard_text, interrupted=True, audio_ms=stopped.heard_ms)

    def _cancel_unspoken_reply(self) -> None:
        reply = self._reply
        if self._response_scope is not None:
            self._response_scope.cancel()
        self._playout.stop()
        if reply is not None and not reply.recorded:
            reply.recorded = True  # nothing was said: no agent turn to store
            last = self.context.messages[-1] if self.context.messages else None
            if last is not None and last.role == "user":
                self.context.messages.pop()
                self._pending_user_text = last.content

    def _maybe_partial(self, tg: TaskGroup) -> None:
        every = self.options.partial_every_ms
        ep = self._endpointer
        if not every or self._partial_busy or ep.audio_ms - self._last_partial_ms < every or ep.speech_ms < every:
            return
        self._partial_busy = True
        self._last_partial_ms = ep.audio_ms
        tg.start_soon(self._partial, ep.current_audio(), self._turn_index + 1)

    async def _partial(self, audio: Pcm, turn: int) -> None:
        try:
            result = await self._stt.transcribe(audio, LISTEN_RATE)
            if result.text.strip():
                self.emit(ev.TranscriptPartial(turn=turn, text=result.text.strip()))
        except EngineError as exc:  # best effort: the engine's failure is recorded by its wrapper and the final transcript
            log.debug("call %s: no partial transcript for turn %d: %s", self.id, turn, exc)
        except Exception as exc:  # a bug, in the engine or here: logged, never silently dropped
            log.warning("call %s: partial transcript of turn %d failed", self.id, turn, exc_info=exc)
        finally:
            self._partial_busy = False

    # ---------------------------------------------------------------- think
    async def _think(self) -> None:
        async for item in self._turns_rx:
            with anyio.CancelScope() as scope:
                self._response_scope = scope
                turn = await self._understand(item)
                if turn is not None:
                    await self._respond(turn, item)
            self._response_scope = None
            if self._hangup_after is not None:
                await self._until_played()
                if self._hangup_after == "transfer" and self.transfer_to is not None:
                    handed = isinstance(self.io, SupportsTransfer) and self.io.transfer(self.transfer_to, self.transfer_summary)
                    if not handed:
                        self.hangup("transfer")  # a phone transport ends the call itself once the line is handed over
                else:
                    self.hangup("agent_hangup")
                return

    async def _understand(self, item: _Heard | _Typed | _Greeting) -> Turn | None:
        if isinstance(item, _Greeting):
            return Turn(index=0, text="", source="greeting", caller=self.caller)
        if isinstance(item, _Typed):
            self._turn_index += 1
            if item.source == "web":
                text = item.text  # a form value is not part of what the caller was saying
            else:
                text = (self._pending_user_text + " " + item.text).strip()
                self._pending_user_text = ""
            self.emit(
                ev.TranscriptFinal(
                    turn=self._turn_index, text=text, confidence=item.confidence, audio_start_ms=0, audio_end_ms=0, source=item.source
                )
            )
            return Turn(self._turn_index, text, item.confidence, item.source, self.caller, data=dict(item.data or {}))
        seg = item.segment
        self._turn_index += 1
        index = self._turn_index
        self._latency(index, "endpoint", item.endpoint_at, item.speech_end_at)
        try:
            result = await self._stt.transcribe(seg.audio, LISTEN_RATE)
        except Exception as exc:
            self._record_error(_as_engine_error(exc, self._stt.name), "stt")
            await self._say_fallback(index, item.speech_end_at)
            return None
        self._latency(index, "stt_final", self.clock.now(), item.speech_end_at)
        text = (self._pending_user_text + " " + result.text.strip()).strip()
        if not result.text.strip():
            return None  # voiced but no words (a cough): not a turn
        self._pending_user_text = ""
        self.emit(
            ev.TranscriptFinal(
                turn=index,
                text=text,
                confidence=None if result.confidence is None else round(result.confidence, 3),
                audio_start_ms=round(seg.start_ms, 1),
                audio_end_ms=round(seg.end_ms, 1),
            )
        )
        return Turn(index, text, result.confidence, "speech", self.caller, audio=seg.audio, sample_rate=LISTEN_RATE)

    async def _respond(self, turn: Turn, item: _Heard | _Typed | _Greeting) -> None:
        speech_end = item.speech_end_at if isinstance(item, _Heard) else item.at if isinstance(item, _Typed) else None
        if turn.source != "greeting":
            self.context.add_user(turn.text)
        reply = self._begin_reply(turn.index, speech_end)
        sentences_tx, sentences_rx = anyio.create_memory_object_stream[tuple[str, VoiceStyle | None]](8)
        try:
            async with anyio.create_task_group() as tg:
                self.context.tasks = tg  # tools that must finish even after a barge-in run here
                tg.start_soon(self._compose, turn, item, reply, sentences_tx)
                await self._render(reply, sentences_rx)
        finally:
            self.context.tasks = None
        await self._finish_reply(reply)

    async def _say_fallback(self, turn: int, speech_end: float) -> None:
        reply = self._begin_reply(turn, speech_end)
        tx, rx = anyio.create_memory_object_stream[tuple[str, VoiceStyle | None]](1)
        async with tx:
            self.emit(ev.AgentText(turn=turn, text=self.options.fallback_line))
            await tx.send((self.options.fallback_line, self._style))
        await self._render(reply, rx)
        await self._finish_reply(reply)

    def _begin_reply(self, turn: int, speech_end: float | None) -> _Reply:
        reply = _Reply(turn, self._playout.begin_turn(turn), speech_end)
        self._reply = reply
        return reply

    async def _finish_reply(self, reply: _Reply) -> None:
        """Wait until the whole reply has left and (by our estimate) played, then record it as heard.

        A barge-in cancels the reply before this returns; the reply is then recorded as cut.
        """
        await self._playout.drained(reply.audio)
        await self._until_played()
        self._record_reply(reply, reply.audio.planned_text, interrupted=False, audio_ms=reply.audio.sent * 1000 / self.io.output_rate)

    async def _compose(
        self,
        turn: Turn,
        item: _Heard | _Typed | _Greeting,
        reply: _Reply,
        out: anyio.abc.ObjectSendStream[tuple[str, VoiceStyle | None]],
    ) -> None:
        """Send the reply's sentences to ``out`` as the agent writes them; its other acts take effect as they come."""
        splitter = SentenceSplitter()
        acts = _said(item.text) if isinstance(item, _Greeting) else self.agent.respond(turn, self.context)
        async with out:
            try:
                async for act in acts:
                    if isinstance(act, Say):
                        await self._hand_over(reply, splitter.feed(act.text), out)
                    elif isinstance(act, Style):
                        await self._hand_over(reply, splitter.flush(), out)  # what was written before the change keeps the old style
                        self._style = act.voice
                    else:
                        self._take(act)
            except Exception as exc:  # the agent is user code: any failure becomes a spoken fallback
                self._record_error(_as_agent_error(exc, self.agent.name), "agent")
                splitter.flush()
                await self._hand_over(reply, [self.options.fallback_line], out)
                return
            await self._hand_over(reply, splitter.flush(), out)

    def _take(self, act: Hangup | Listen | TransferCall) -> None:
        """An act that changes what the call does next, not what it says."""
        if isinstance(act, Hangup):
            self._hangup_after = act.reason
        elif isinstance(act, Listen):
            self._endpointer.patience = max(0.5, min(act.patience, 4.0))
            self.emit(ev.TurnPatience(patience=self._endpointer.patience, reason=act.reason))
        elif isinstance(act, TransferCall):
            self.transfer_to, self.transfer_summary = act.to, act.summary
            self.emit(ev.Transfer(to=act.to, reason=act.reason, summary=act.summary))
            self._hangup_after = "transfer"

    async def _hand_over(
        self, reply: _Reply, sentences: list[str], out: anyio.abc.ObjectSendStream[tuple[str, VoiceStyle | None]]
    ) -> None:
        """Each sentence as it will be spoken, to ``out``; the first one spoken takes ``first_text``."""
        for sentence in sentences:
            text = speakable(sentence)
            if not text:
                continue
            if not reply.planned and reply.speech_end_at is not None:
                self._latency(reply.turn, "first_text", self.clock.now(), reply.speech_end_at)
            self.emit(ev.AgentText(turn=reply.turn, text=text))
            reply.planned.append(text)
            await out.send((text, self._style))

    async def _render(self, reply: _Reply, sentences: anyio.abc.ObjectReceiveStream[tuple[str, VoiceStyle | None]]) -> None:
        first = True
        async with sentences:
            async for text, style in sentences:
                to_out = Resampler(self._tts.sample_rate, self.io.output_rate)
                chunks: list[Pcm] = []
                try:
                    async for chunk in self._tts.synthesize(text, style):
                        if first and reply.speech_end_at is not None:
                            self._latency(reply.turn, "first_audio_synth", self.clock.now(), reply.speech_end_at)
                            first = False
                        chunks.append(to_out(chunk))
                except Exception as exc:
                    self._record_error(_as_engine_error(exc, self._tts.name), "tts")
                    continue
                chunks.append(to_out(np.zeros(0, dtype=np.int16), last=True))
                pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
                if pcm.size:
                    await self._playout.add_sentence(reply.audio, text, pcm)

    async def _until_played(self) -> None:
        """Wait until the caller has (by our estimate) heard everything sent."""
        while self._playout.speaking(now := self.clock.now()):
            await self.clock.sleep_until(now + self._playout.frame_s)

    def _record_reply(self, reply: _Reply, text: str, *, interrupted: bool, audio_ms: float) -> None:
        if reply.recorded:
            return
        reply.recorded = True
        self.emit(
            ev.AgentTurn(
                turn=reply.turn,
                text=text,
                planned_text=" ".join(reply.planned) or reply.audio.planned_text,
                interrupted=interrupted,
                audio_ms=round(audio_ms, 1),
            )
        )
        if text:
            self.context.add_agent(text)

    def _record_cut_reply(self) -> None:
        """The call ended mid-reply: store what the caller heard of it."""
        reply = self._reply
        if reply is None or reply.recorded:
            return
        heard = self._playout.heard(reply.audio)
        self._record_reply(
            reply, reply.audio.heard_text(heard), interrupted=True, audio_ms=heard * 1000 / self.io.output_rate
        )

    # ---------------------------------------------------------------- play
    async def _play(self) -> None:
        pl = self._playout
        deadline = -math.inf
        while True:
            generation, audio, chunk, mark = await pl.next_frame()
            now = self.clock.now()
            lead_s = pl.lead / pl.sample_rate
            if now - deadline > lead_s + pl.frame_s:
                deadline = now - lead_s  # (re)start after a pause: send the lead at once, then real time
            await self.clock.sleep_until(deadline)
            deadline += pl.frame_s
            if not pl.is_current(generation):
                continue  # barge-in while this frame waited: it never leaves
            sent_at = self.clock.now()
            self.io.send_audio(chunk)
            pl.record_sent(audio, chunk.size, sent_at)
            self._echo.add(chunk, sent_at)
            self._last_activity = sent_at
            reply = self._reply
            if reply is not None and reply.audio is audio and not reply.first_audio_sent:
                reply.first_audio_sent = True
                if reply.speech_end_at is not None and reply.turn > 0:
                    self._latency(reply.turn, "first_audio_sent", sent_at, reply.speech_end_at)
                    # voice_to_voice is taken when the client confirms this first frame played.
                    reply.first_mark = f"{reply.turn}:0:{audio.sent}"
                    self.emit(ev.PlaybackMark(name=reply.first_mark))
                    self.io.send_mark(reply.first_mark)
            if mark is not None:
                self.emit(ev.PlaybackMark(name=mark))
                self.io.send_mark(mark)

    # ---------------------------------------------------------------- records
    def _latency(self, turn: int, stage: ev.LatencyStage, at: float, since: float) -> None:
        self.emit(ev.Latency(turn=turn, stage=stage, ms=round((at - since) * 1000, 2)))

    def _engine_failed(self, exc: EngineError, recovering: bool) -> None:
        """Every engine failure is in the trace, including the ones a retry or the fallback recovered."""
        self.emit(
            ev.ErrorEvent(
                code=exc.category, message=f"{exc.engine}: {exc.message}", stage="engine", retryable=recovering
            )
        )

    def _record_error(self, exc: CallwrightError, stage: str) -> None:
        """Record a failure with where it happened: this call and the stage (stt, tts, agent)."""
        exc.call_id = exc.call_id or self.id
        exc.stage = exc.stage or stage
        log.warning("%s", exc)  # "call 3f1c... stt: ...": what failed, and where
        self.emit(
            ev.ErrorEvent(
                code=getattr(exc, "category", "error"), message=exc.message, stage=stage, retryable=exc.retryable
            )
        )
