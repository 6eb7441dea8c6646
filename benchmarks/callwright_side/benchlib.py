"""Callwright side of the side-by-side benchmark: stubs, the recording io, configs, one call.

Implements the workload of /work/shared/bench/pipecat/README.md with Callwright's public classes
only: :class:`callwright.voice.call.Call` (with its real hear / think / play / watch tasks, the
``ResilientStt``/``ResilientTts`` wrappers it puts around every engine, event emission, barge-in
and echo logic, and the real-time ``Playout``), driven through the transport-facing API a real
transport uses (sync ``call.push_audio``, ``call.hangup``, ``await call.run()``), with an io
object (:class:`BenchIO`, the shape of ``callwright.transport.memory.MemoryIO``) that records
``perf_counter_ns`` timestamps.

    push_audio -> [ingress stream] -> hear: VAD stub -> Endpointer -> segment
               -> think: STT stub (ResilientStt) -> agent stub (20 Say) -> SentenceSplitter
               -> TTS stub (ResilientTts) -> Playout (20 ms frames, 60 ms lead, real time)
               -> play: io.send_audio  (the "sink")

Differences from the Pipecat stubs that are Callwright's real path, not benchmark choices:

* Callwright's ``SentenceSplitter`` turns the 20 tokens into two sentences; the TTS is asked for
  one sentence at a time and the call queues a sentence's audio when it is complete. The TTS stub
  yields 2 new 480-sample chunks per word of the sentence (20 chunks a sentence, 40 a response),
  so first audio waits for the first sentence (11 tokens, 20 chunks), not for the first token.
* Output is always paced in real time by the ``Playout`` (60 ms lead: the first 3 frames of a
  response leave at once, then one per 20 ms). This is the ``transport`` shape of the spec.
* End of turn is decided by the real ``Endpointer`` on audio time: VAD frames of 320 samples,
  ``endpoint_silence_ms=300`` (15 frames), ``min_speech_ms=100`` (5 frames), no pre-roll.
"""

from __future__ import annotations

import array
import asyncio
import logging
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ -> common

import numpy as np

import callwright
from callwright import events as ev
from callwright.agent.base import Context, Say, Turn
from callwright.clock import MonotonicClock
from callwright.engines.base import Transcription, VoiceStyle
from callwright.engines.resilient import RetryPolicy
from callwright.voice.call import BargeInOptions, Call, CallOptions, Engines
from callwright.voice.endpointing import TurnTaking

logging.getLogger("callwright").setLevel(logging.WARNING)

FRAMEWORK = "callwright"
perf_ns = time.perf_counter_ns

# ---------------------------------------------------------------------------------------------
# audio (byte-identical to the Pipecat side)
# ---------------------------------------------------------------------------------------------

IN_RATE = 16_000
OUT_RATE = 24_000
FRAME_MS = 20
CHUNK_NS = FRAME_MS * 1_000_000
IN_SAMPLES = IN_RATE * FRAME_MS // 1000  # 320 -> 640 bytes
OUT_SAMPLES = OUT_RATE * FRAME_MS // 1000  # 480 -> 960 bytes
LEAD_MS = 60  # CallOptions.lead_ms default
LEAD_FRAMES = LEAD_MS // FRAME_MS  # 3


def _sine(freq: float, rate: int, n: int, amp: int = 8000) -> bytes:
    a = array.array("h", (round(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


SPEECH = _sine(220, IN_RATE, IN_SAMPLES)  # 640 bytes
SILENCE = bytes(IN_SAMPLES * 2)  # 640 zero bytes
ZERO640 = SILENCE
OUT_CHUNK = _sine(330, OUT_RATE, OUT_SAMPLES)  # 960 bytes
assert len(SPEECH) == 640 and len(SILENCE) == 640 and len(OUT_CHUNK) == 960

EOT_SILENCE = 15
MIN_SPEECH = 5
TOKENS = [f" w{i}." if i in (9, 19) else f" w{i}" for i in range(20)]
CHUNKS_PER_TOKEN = 2
CHUNKS_PER_RESPONSE = len(TOKENS) * CHUNKS_PER_TOKEN  # 40


def speech_frame() -> np.ndarray:
    """A new int16 array object wrapping the shared speech bytes (no payload copy)."""
    return np.frombuffer(SPEECH, dtype=np.int16)


def silence_frame() -> np.ndarray:
    return np.frombuffer(SILENCE, dtype=np.int16)


def out_chunk() -> np.ndarray:
    return np.frombuffer(OUT_CHUNK, dtype=np.int16)


# ---------------------------------------------------------------------------------------------
# probe: counters + waiters, shared by the VAD stub and the io
# ---------------------------------------------------------------------------------------------

AudioHook = Callable[[int], None]


class Probe:
    """What reached the ends of one call: VAD frames (input), io audio/events/clears (output).

    ``wait_until(pred)`` wakes when ``pred()`` becomes true; predicates are checked only while
    someone waits (as the Pipecat SinkProbe does).
    """

    def __init__(self) -> None:
        self.n_in = 0
        self.n_out = 0
        self.t_first_audio: int | None = None
        self.t_last_audio = 0
        self.n_clears = 0
        self.t_last_clear = 0
        self.n_out_at_last_clear = 0
        self.n_agent_turns = 0
        self.t_started: int | None = None
        self.n_events = 0
        self.on_audio: AudioHook | None = None
        self.on_in: Callable[[int], None] | None = None
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future]] = []

    def arm(self) -> None:
        self.t_first_audio = None

    def _check(self) -> None:
        keep = []
        for pred, fut in self._waiters:
            if fut.done():
                continue
            if pred():
                fut.set_result(True)
            else:
                keep.append((pred, fut))
        self._waiters = keep

    async def wait_until(self, pred: Callable[[], bool], wait_s: float = 10.0) -> None:
        if pred():
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        await asyncio.wait_for(fut, wait_s)


# ---------------------------------------------------------------------------------------------
# stubs (engine and agent protocols)
# ---------------------------------------------------------------------------------------------


class StubVadStream:
    """``VadStream``: 320-sample frames; speech iff the frame's bytes differ from 640 zero bytes
    (one ``tobytes`` + one bytes compare per frame, like the Pipecat stub's ``bytes !=``).
    Counts frames on the probe: a frame seen here has reached the end of Callwright's input path."""

    frame_samples = IN_SAMPLES

    def __init__(self, probe: Probe) -> None:
        self._probe = probe

    def speech_probability(self, frame: np.ndarray) -> float:
        p = self._probe
        p.n_in += 1
        if p.on_in is not None:
            p.on_in(p.n_in)
        if p._waiters:
            p._check()
        return 1.0 if frame.tobytes() != ZERO640 else 0.0

    def reset(self) -> None:
        pass


class StubVad:
    """``VoiceActivityDetector`` returning :class:`StubVadStream` streams."""

    name = "stub-vad"
    sample_rate = IN_RATE

    def __init__(self, probe: Probe) -> None:
        self._probe = probe

    def stream(self) -> StubVadStream:
        return StubVadStream(self._probe)


class StubStt:
    """``SpeechToText``: returns "user turn N" at once (no sleep)."""

    name = "stub-stt"

    def __init__(self) -> None:
        self.turns = 0

    async def transcribe(self, audio: np.ndarray, sample_rate: int, *, language: str = "en") -> Transcription:
        self.turns += 1
        return Transcription(f"user turn {self.turns}")


class StubAgent:
    """``Agent``: yields the 20 tokens as ``Say`` acts. Delays are 0 unless given (0: no sleep call)."""

    name = "stub-agent"

    def __init__(self, ttfb_s: float = 0.0, token_s: float = 0.0) -> None:
        self._ttfb_s = ttfb_s
        self._token_s = token_s

    def greeting(self, context: Context) -> str | None:
        return None

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Say]:
        if self._ttfb_s:
            await asyncio.sleep(self._ttfb_s)
        for i, tok in enumerate(TOKENS):
            if i and self._token_s:
                await asyncio.sleep(self._token_s)
            yield Say(tok)


class StubTts:
    """``TextToSpeech`` at 24 kHz: 2 new 480-sample (20 ms) chunks per word of the sentence, burst."""

    name = "stub-tts"
    sample_rate = OUT_RATE

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[np.ndarray]:
        for _ in text.split():
            for _ in range(CHUNKS_PER_TOKEN):
                yield np.frombuffer(OUT_CHUNK, dtype=np.int16)


# ---------------------------------------------------------------------------------------------
# io: what the transport would be (CallIO), recording timestamps
# ---------------------------------------------------------------------------------------------


class BenchIO:
    """``CallIO`` (the shape of ``callwright.transport.memory.MemoryIO``) that records
    ``perf_counter_ns`` at every ``send_audio`` (the write: our sink), counts ``clear()`` calls
    (the barge-in stop point: the Playout has already dropped every queued frame) and the
    events that mark "started" and "reply finished". Keeps no audio."""

    input_rate = IN_RATE
    output_rate = OUT_RATE

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def send_audio(self, pcm: np.ndarray) -> None:
        now = perf_ns()
        p = self.probe
        p.n_out += 1
        p.t_last_audio = now
        if p.t_first_audio is None:
            p.t_first_audio = now
        if p.on_audio is not None:
            p.on_audio(now)
        if p._waiters:
            p._check()

    def send_event(self, event: ev.Event) -> None:
        p = self.probe
        p.n_events += 1
        if isinstance(event, ev.AgentTurn):
            p.n_agent_turns += 1
        elif isinstance(event, ev.CallStarted):
            p.t_started = perf_ns()
        if p._waiters:
            p._check()

    def clear(self) -> None:
        now = perf_ns()
        p = self.probe
        p.n_clears += 1
        p.t_last_clear = now
        p.n_out_at_last_clear = p.n_out
        if p._waiters:
            p._check()

    def send_mark(self, name: str) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# configurations and one call
# ---------------------------------------------------------------------------------------------

TURN_TAKING = TurnTaking(endpoint_silence_ms=EOT_SILENCE * FRAME_MS, min_speech_ms=MIN_SPEECH * FRAME_MS, pre_roll_ms=0)
# C: the first speech frame interrupts, as the Pipecat stub's interruption does.
BARGE_IN_FIRST_FRAME = BargeInOptions(min_speech_ms=FRAME_MS, min_words=0, echo_check=False)


def make_options(config: str, barge_in: BargeInOptions | None = None) -> CallOptions:
    """default: CallOptions as a user gets them (lead 60 ms, barge-in with echo check and word
    check, retry/timeout wrappers), with the spec's turn-taking. lean: the same without the echo
    check, the only optional per-turn work Callwright has (there are no observers to turn off)."""
    if config == "default":
        bi = barge_in or BargeInOptions()
    elif config == "lean":
        bi = barge_in or BargeInOptions(echo_check=False)
    else:
        raise ValueError(f"unknown config {config!r}")
    return CallOptions(turn_taking=TURN_TAKING, barge_in=bi, lead_ms=LEAD_MS)


class BenchCall:
    """One simulated call: stubs + BenchIO + ``Call``; ``start()`` runs ``call.run()`` in a task.

    Construction = stubs + io + Engines + Call. ``start()`` creates the run task and returns when
    the call is running: CallStarted has been emitted and one more event-loop pass has let the
    four call tasks (hear/think/play/watch) run to their first await. ``stop()`` = ``hangup()``
    -> ``run()`` returned.
    """

    def __init__(
        self,
        config: str = "default",
        barge_in: BargeInOptions | None = None,
        llm_ttfb_s: float = 0.0,
        llm_token_s: float = 0.0,
    ) -> None:
        self.config = config
        self.probe = Probe()
        self.io = BenchIO(self.probe)
        self.stt = StubStt()
        engines = Engines(stt=self.stt, tts=StubTts(), vad=StubVad(self.probe), policy=RetryPolicy())
        self.call = Call(
            StubAgent(llm_ttfb_s, llm_token_s),
            engines,
            self.io,
            options=make_options(config, barge_in),
            clock=MonotonicClock(),
        )
        self.push = self.call.push_audio
        self.task: asyncio.Task | None = None
        self.t_eot: int | None = None  # used by B

    async def start(self, wait_s: float = 30.0) -> None:
        self.task = asyncio.create_task(self.call.run())
        probe = self.probe
        await probe.wait_until(lambda: probe.t_started is not None, wait_s)
        await asyncio.sleep(0)  # the call's four tasks run to their first await

    async def stop(self, wait_s: float = 30.0) -> None:
        self.call.hangup("hangup")
        if self.task is not None:
            await asyncio.wait_for(self.task, wait_s)

    async def cancel(self) -> None:
        self.call.hangup("hangup")
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 10)
            except (TimeoutError, asyncio.CancelledError):
                pass


def framework_meta() -> dict:
    try:
        import importlib.metadata as md

        version = md.version("callwright")
    except Exception:
        version = getattr(callwright, "__version__", "unknown")
    return {
        "callwright_version": version,
        "callwright_path": str(Path(callwright.__file__).resolve().parent),
        "log_level": "WARNING",
        "lead_ms": LEAD_MS,
    }
