"""Pipecat side of the side-by-side benchmark: stubs, in-memory transports, worker configs, Call.

Implements the workload of /work/shared/bench/pipecat/README.md with Pipecat's public classes
only (pipecat-ai 1.14.*). Every processor here is a plain ``FrameProcessor`` subclass, so frames
take Pipecat's normal queueing/dispatch path (input queue; process queue + task for non-system
frames).

    bare:      worker.queue_frame -> StubSTT -> StubLLM -> StubTTS -> SinkProbe
    transport: MemInput.push_audio_frame -> StubSTT -> StubLLM -> StubTTS(burst) -> MemOutput -> SinkProbe
"""

from __future__ import annotations

import array
import asyncio
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ -> common

from loguru import logger

logger.remove()
logger.add(sys.stderr, level="WARNING")  # Pipecat logs at DEBUG by default

import pipecat  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    OutputAudioRawFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transports.base_input import BaseInputTransport  # noqa: E402
from pipecat.transports.base_output import BaseOutputTransport  # noqa: E402
from pipecat.transports.base_transport import TransportParams  # noqa: E402
from pipecat.utils.time import time_now_iso8601  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

FRAMEWORK = "pipecat"
PIPECAT_VERSION = pipecat.__version__
perf_ns = time.perf_counter_ns

# ---------------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------------

IN_RATE = 16_000
OUT_RATE = 24_000
FRAME_MS = 20
CHUNK_NS = FRAME_MS * 1_000_000
IN_SAMPLES = IN_RATE * FRAME_MS // 1000  # 320 -> 640 bytes
OUT_SAMPLES = OUT_RATE * FRAME_MS // 1000  # 480 -> 960 bytes


def _sine(freq: float, rate: int, n: int, amp: int = 8000) -> bytes:
    a = array.array("h", (round(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


SPEECH = _sine(220, IN_RATE, IN_SAMPLES)  # 640 bytes
SILENCE = bytes(IN_SAMPLES * 2)  # 640 zero bytes
OUT_CHUNK = _sine(330, OUT_RATE, OUT_SAMPLES)  # 960 bytes
assert len(SPEECH) == 640 and len(SILENCE) == 640 and len(OUT_CHUNK) == 960

EOT_SILENCE = 15
MIN_SPEECH = 5
TOKENS = [f" w{i}." if i in (9, 19) else f" w{i}" for i in range(20)]
CHUNKS_PER_TOKEN = 2
CHUNKS_PER_RESPONSE = len(TOKENS) * CHUNKS_PER_TOKEN  # 40


def speech_frame() -> InputAudioRawFrame:
    """A new frame object wrapping the shared speech bytes (no payload copy)."""
    return InputAudioRawFrame(audio=SPEECH, sample_rate=IN_RATE, num_channels=1)


def silence_frame() -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=SILENCE, sample_rate=IN_RATE, num_channels=1)


# ---------------------------------------------------------------------------------------------
# stubs
# ---------------------------------------------------------------------------------------------


class StubSTT(FrameProcessor):
    """Deterministic end-of-turn STT: speech iff ``bytes != zero buffer``.

    Speech onset -> UserStartedSpeakingFrame + InterruptionFrame (broadcast, as Pipecat's user
    turn processor does on every user turn start); 15th silence frame in speech -> leave speech,
    and if >= 5 speech frames: UserStoppedSpeakingFrame + one TranscriptionFrame. Every input
    audio frame is forwarded first (audio passthrough).
    """

    def __init__(self, eot_silence: int = EOT_SILENCE, min_speech: int = MIN_SPEECH, **kwargs):
        super().__init__(name=kwargs.pop("name", "StubSTT"), **kwargs)
        self._eot_silence = eot_silence
        self._min_speech = min_speech
        self._in_speech = False
        self._speech_count = 0
        self._silence_count = 0
        self.turns = 0
        self.noise_dropped = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
            if frame.audio != SILENCE:
                if not self._in_speech:
                    self._in_speech = True
                    self._speech_count = 0
                    await self.broadcast_frame(UserStartedSpeakingFrame)
                    await self.broadcast_interruption()
                self._speech_count += 1
                self._silence_count = 0
            elif self._in_speech:
                self._silence_count += 1
                if self._silence_count >= self._eot_silence:
                    self._in_speech = False
                    self._silence_count = 0
                    if self._speech_count >= self._min_speech:
                        self.turns += 1
                        await self.broadcast_frame(UserStoppedSpeakingFrame)
                        await self.push_frame(
                            TranscriptionFrame(
                                text=f"user turn {self.turns}", user_id="user", timestamp=time_now_iso8601()
                            )
                        )
                    else:
                        self.noise_dropped += 1
        else:
            await self.push_frame(frame, direction)


class StubLLM(FrameProcessor):
    """On a transcription: response-start, 20 tokens, response-end. Consumes the transcription.

    Delays are 0 unless given; 0 means no sleep call at all. Reports Pipecat TTFB/processing
    metrics when ``enable_metrics`` is on (no-ops otherwise).
    """

    def __init__(self, ttfb_s: float = 0.0, token_s: float = 0.0, **kwargs):
        super().__init__(name=kwargs.pop("name", "StubLLM"), **kwargs)
        self._ttfb_s = ttfb_s
        self._token_s = token_s

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            await self.start_processing_metrics()
            await self.start_ttfb_metrics()
            await self.push_frame(LLMFullResponseStartFrame())
            if self._ttfb_s:
                await asyncio.sleep(self._ttfb_s)
            for i, tok in enumerate(TOKENS):
                if i == 0:
                    await self.stop_ttfb_metrics()
                elif self._token_s:
                    await asyncio.sleep(self._token_s)
                await self.push_frame(LLMTextFrame(tok))
            await self.push_frame(LLMFullResponseEndFrame())
            await self.stop_processing_metrics()
        else:
            await self.push_frame(frame, direction)


class StubTTS(FrameProcessor):
    """2 x 20 ms output chunks (960 B, 24 kHz) per LLM token.

    burst: chunks back to back. realtime: one chunk per 20 ms on an absolute schedule anchored
    at the response's first chunk (``deadline += 20 ms; sleep(deadline - now)``); an
    interruption cancels the in-flight synthesis (Pipecat cancels the process task) and resets
    the schedule. Each realtime chunk carries its scheduled time in ``metadata["sched_ns"]``.
    """

    def __init__(self, realtime: bool = False, **kwargs):
        super().__init__(name=kwargs.pop("name", "StubTTS"), **kwargs)
        self._realtime = realtime
        self._deadline: int | None = None
        self._first_chunk = True

    def can_generate_metrics(self) -> bool:
        return True

    async def _chunk(self):
        sched = None
        if self._realtime:
            if self._deadline is None:
                self._deadline = perf_ns()
            else:
                self._deadline += CHUNK_NS
                await asyncio.sleep(max(0, self._deadline - perf_ns()) / 1e9)
            sched = self._deadline
        frame = TTSAudioRawFrame(audio=OUT_CHUNK, sample_rate=OUT_RATE, num_channels=1)
        if sched is not None:
            frame.metadata["sched_ns"] = sched
        if self._first_chunk:
            self._first_chunk = False
            await self.stop_ttfb_metrics()
        await self.push_frame(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame):
            for _ in range(CHUNKS_PER_TOKEN):
                await self._chunk()
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._deadline = None
            self._first_chunk = True
            await self.start_ttfb_metrics()
            await self.push_frame(frame, direction)
            await self.push_frame(TTSStartedFrame())
        elif isinstance(frame, LLMFullResponseEndFrame):
            await self.push_frame(frame, direction)
            await self.push_frame(TTSStoppedFrame())
        elif isinstance(frame, InterruptionFrame):
            self._deadline = None
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)


class PassThrough(FrameProcessor):
    """Forwards every frame unchanged."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


AudioHook = Callable[[OutputAudioRawFrame, int, "int | None"], None]


class SinkProbe(FrameProcessor):
    """Last processor: timestamps what reaches the end of the pipeline, then forwards it.

    Counts input audio, output audio (unless ``count_audio`` is False: in the transport shape
    the output transport's write reports audio via ``audio_arrived``), InterruptionFrames and
    TTSStoppedFrames; keeps the time of the first output audio since ``arm()``; collects
    Pipecat MetricsData. ``wait_until(pred)`` wakes when ``pred()`` becomes true.
    """

    def __init__(self, count_audio: bool = True, collect_metrics: bool = False, **kwargs):
        super().__init__(name=kwargs.pop("name", "SinkProbe"), **kwargs)
        self.count_audio = count_audio
        self.collect_metrics = collect_metrics
        self.on_audio: AudioHook | None = None
        self.n_in = 0
        self.n_out = 0
        self.n_interruptions = 0
        self.n_tts_stopped = 0
        self.t_first_audio: int | None = None
        self.t_last_audio = 0
        self.t_last_interruption = 0
        self.n_out_at_last_interruption = 0
        self.t_start: int | None = None
        self.metrics: list = []
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future]] = []

    def arm(self):
        self.t_first_audio = None

    def audio_arrived(self, frame: OutputAudioRawFrame, now: int, sched: int | None = None):
        self.n_out += 1
        self.t_last_audio = now
        if self.t_first_audio is None:
            self.t_first_audio = now
        if self.on_audio is not None:
            self.on_audio(frame, now, sched)
        if self._waiters:
            self._check()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        now = perf_ns()
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, InputAudioRawFrame):
                self.n_in += 1
            elif isinstance(frame, OutputAudioRawFrame):
                if self.count_audio:
                    self.audio_arrived(frame, now, frame.metadata.get("sched_ns"))
            elif isinstance(frame, InterruptionFrame):
                self.n_interruptions += 1
                self.t_last_interruption = now
                self.n_out_at_last_interruption = self.n_out
            elif isinstance(frame, TTSStoppedFrame):
                self.n_tts_stopped += 1
            elif isinstance(frame, MetricsFrame):
                if self.collect_metrics:
                    self.metrics.extend(frame.data)
            elif isinstance(frame, StartFrame):
                self.t_start = now
            if self._waiters:
                self._check()
        await self.push_frame(frame, direction)

    def _check(self):
        keep = []
        for pred, fut in self._waiters:
            if fut.done():
                continue
            if pred():
                fut.set_result(True)
            else:
                keep.append((pred, fut))
        self._waiters = keep

    async def wait_until(self, pred: Callable[[], bool], wait_s: float = 10.0):
        if pred():
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        await asyncio.wait_for(fut, wait_s)


class ChainSink(FrameProcessor):
    """A2 sink: timestamps every frame of one type; ``expect`` resolves on the n-th arrival."""

    def __init__(self, frame_type: type[Frame], **kwargs):
        super().__init__(name=kwargs.pop("name", "ChainSink"), **kwargs)
        self.frame_type = frame_type
        self.arrivals: list[int] = []
        self._target = 0
        self._fut: asyncio.Future | None = None

    def expect(self, count: int) -> asyncio.Future:
        self._target = count
        self._fut = asyncio.get_running_loop().create_future()
        if len(self.arrivals) >= count:
            self._fut.set_result(True)
        return self._fut

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if type(frame) is self.frame_type:
            self.arrivals.append(perf_ns())
            if self._fut is not None and len(self.arrivals) >= self._target and not self._fut.done():
                self._fut.set_result(True)
        await self.push_frame(frame, direction)


# ---------------------------------------------------------------------------------------------
# in-memory transports
# ---------------------------------------------------------------------------------------------


class MemInput(BaseInputTransport):
    """Real BaseInputTransport with no network: frames enter via ``push_audio_frame``."""

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)


class MemOutput(BaseOutputTransport):
    """Real BaseOutputTransport (20 ms chunking, audio queue, bot-speaking frames, interruption
    flush). ``write_audio_frame`` records the write on the probe, then, when paced, sleeps until
    the next 20 ms playout slot exactly like Pipecat's websocket output transport
    (``_write_audio_sleep``, reset on interruption; its interval ``(chunk bytes / rate) / 2``
    is the chunk duration for 16-bit mono, i.e. 1x real time = 20 ms here).

    Output lag (paced only) is measured against an absolute per-response schedule anchored at
    the response's first write: with that sleep-after-write algorithm chunk k of a response is
    due at ``anchor + max(0, k-1) * 20 ms`` (the first two go back to back). The anchor is reset
    by the TTSStartedFrame, which the transport writes in order with the audio
    (``write_transport_frame``). Pipecat re-anchors its own schedule when it falls behind; this
    measurement does not, so lag accumulates as a listener would hear it.
    """

    def __init__(self, params: TransportParams, probe: SinkProbe, paced: bool, **kwargs):
        super().__init__(params, **kwargs)
        self._probe = probe
        self._paced = paced
        self._next_send_ns = 0
        self._anchor_ns = 0
        self._k = 0

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._next_send_ns = 0

    async def write_transport_frame(self, frame: Frame):
        if isinstance(frame, TTSStartedFrame):
            self._anchor_ns = 0

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        now = perf_ns()
        if not self._paced:
            self._probe.audio_arrived(frame, now, None)
            return True
        if not self._anchor_ns:
            self._anchor_ns = now
            self._k = 0
        sched = self._anchor_ns + max(0, self._k - 1) * CHUNK_NS
        self._k += 1
        self._probe.audio_arrived(frame, now, sched)
        # Pipecat websocket transport's _write_audio_sleep, with perf_counter_ns.
        sleep_ns = max(0, self._next_send_ns - perf_ns())
        await asyncio.sleep(sleep_ns / 1e9)
        if sleep_ns == 0:
            self._next_send_ns = perf_ns() + CHUNK_NS
        else:
            self._next_send_ns += CHUNK_NS
        return True


# ---------------------------------------------------------------------------------------------
# worker configurations and one call
# ---------------------------------------------------------------------------------------------


def make_worker(pipeline: Pipeline, config: str, enable_metrics: bool = False) -> PipelineWorker:
    """default: PipelineWorker as a user gets it (RTVI processor+observer, turn tracking,
    idle-timeout observer). lean: enable_rtvi=False, enable_turn_tracking=False,
    idle_timeout_secs=None."""
    params = PipelineParams(audio_in_sample_rate=IN_RATE, audio_out_sample_rate=OUT_RATE, enable_metrics=enable_metrics)
    if config == "lean":
        return PipelineWorker(
            pipeline, params=params, enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None
        )
    if config == "default":
        return PipelineWorker(pipeline, params=params)
    raise ValueError(f"unknown config {config!r}")


class Call:
    """One simulated call: stubs + pipeline + PipelineWorker, run under its own WorkerRunner.

    ``paced``: bare -> realtime StubTTS; transport -> output transport playout pacing.
    Construction = stubs + pipeline + worker (no runner); ``start()`` creates and starts the
    runner and returns when ``on_pipeline_started`` fired (StartFrame reached the end);
    ``stop()`` queues an EndFrame and returns when the runner's run() returned.
    """

    def __init__(
        self,
        config: str = "lean",
        shape: str = "bare",
        paced: bool = False,
        llm_ttfb_s: float = 0.0,
        llm_token_s: float = 0.0,
        enable_metrics: bool = False,
    ):
        self.config = config
        self.shape = shape
        self.probe = SinkProbe(count_audio=(shape == "bare"), collect_metrics=enable_metrics)
        self.stt = StubSTT()
        self.llm = StubLLM(ttfb_s=llm_ttfb_s, token_s=llm_token_s)
        self.input: MemInput | None = None
        self.output: MemOutput | None = None
        if shape == "bare":
            self.tts = StubTTS(realtime=paced)
            processors: list[FrameProcessor] = [self.stt, self.llm, self.tts, self.probe]
        elif shape == "transport":
            self.tts = StubTTS(realtime=False)
            self.input = MemInput(TransportParams(audio_in_enabled=True, audio_in_sample_rate=IN_RATE))
            self.output = MemOutput(
                TransportParams(
                    audio_out_enabled=True,
                    audio_out_sample_rate=OUT_RATE,
                    audio_out_10ms_chunks=FRAME_MS // 10,
                    audio_out_end_silence_secs=0,
                ),
                probe=self.probe,
                paced=paced,
            )
            processors = [self.input, self.stt, self.llm, self.tts, self.output, self.probe]
        else:
            raise ValueError(f"unknown shape {shape!r}")
        self.pipeline = Pipeline(processors)
        self.worker = make_worker(self.pipeline, config, enable_metrics)
        self.runner: WorkerRunner | None = None
        self.task: asyncio.Task | None = None
        self.t_started: int | None = None
        self._started = asyncio.Event()
        self.t_eot: int | None = None  # used by B

        @self.worker.event_handler("on_pipeline_started")
        async def _on_started(worker, frame):
            self.t_started = perf_ns()
            self._started.set()

    async def start(self, wait_s: float = 30.0):
        self.runner = WorkerRunner(handle_sigint=False)
        await self.runner.add_workers(self.worker)
        self.task = asyncio.create_task(self.runner.run())
        await asyncio.wait_for(self._started.wait(), wait_s)

    async def push(self, frame: InputAudioRawFrame):
        if self.input is not None:
            await self.input.push_audio_frame(frame)
        else:
            await self.worker.queue_frame(frame)

    async def stop(self, wait_s: float = 30.0):
        await self.worker.queue_frame(EndFrame())
        if self.task is not None:
            await asyncio.wait_for(self.task, wait_s)

    async def cancel(self):
        if self.runner is not None:
            await self.runner.cancel()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 10)
            except (TimeoutError, asyncio.CancelledError):
                pass


def metrics_summary(items: list) -> dict[str, dict[str, float]]:
    """Pipecat MetricsData list -> {"TTFBMetricsData:StubLLM": {"median_ms", "n"}}."""
    import statistics

    groups: dict[str, list[float]] = {}
    for d in items:
        value = getattr(d, "value", None)
        if not isinstance(value, (int, float)):
            continue
        groups.setdefault(f"{type(d).__name__}:{d.processor}", []).append(float(value) * 1000)
    return {k: {"median_ms": round(statistics.median(v), 4), "n": len(v)} for k, v in sorted(groups.items())}


def framework_meta() -> dict:
    return {"pipecat_version": PIPECAT_VERSION, "log_level": "WARNING"}
