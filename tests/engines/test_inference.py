"""One inference thread per engine, and no stacking of abandoned inferences.

The engine here computes the way the local engines do, in its :class:`InferenceThread`, and each of
its inferences blocks a real thread until the test releases it, like a stuck model. The retry tests
run on a :class:`SteppedClock` moved by hand: a timeout's alarm fires at exactly its deadline, and
time does not move while the test waits on a thread, so the times below are exact.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np
import pytest

from callwright.clock import SteppedClock
from callwright.engines.base import Pcm, Transcription, VoiceStyle
from callwright.engines.fakes import FakeStt, FakeTts
from callwright.engines.inference import InferenceThread
from callwright.engines.resilient import ResilientStt, ResilientTts, RetryPolicy
from callwright.errors import EngineError, EngineTimeout

AUDIO = np.zeros(16000, dtype=np.int16)
POLICY = RetryPolicy(timeout=10.0, retries=2, backoff=0.25)  # the default timeout and retries


class BlockingEngine:
    """An STT and a TTS whose every inference runs in its :class:`InferenceThread` and blocks that
    thread until ``release`` is set. Counts the inferences started and how many ran at once."""

    sample_rate = 16000

    def __init__(self, name: str = "blocking") -> None:
        self.name = name
        self.inference = InferenceThread()
        self.release = threading.Event()
        self.runs = 0  # inferences started
        self.running = 0
        self.most_running = 0
        self._counts = threading.Condition()

    @property
    def busy(self) -> bool:
        return self.inference.busy

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        run = await self.inference.run(self._infer)
        return Transcription(f"{self.name} {run}", 0.9, language)

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        run = await self.inference.run(self._infer)
        yield np.full(1600, run, dtype=np.int16)

    def _infer(self) -> int:
        with self._counts:
            self.runs += 1
            run = self.runs
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self._counts.notify_all()
        try:
            self.release.wait()
            return run
        finally:
            with self._counts:
                self.running -= 1

    async def started(self, runs: int) -> None:
        """Return once ``runs`` inferences have started (they start in a thread: wait in one)."""

        def wait() -> bool:
            with self._counts:
                return self._counts.wait_for(lambda: self.runs >= runs, timeout=60)

        assert await anyio.to_thread.run_sync(wait), f"{runs} inferences never started"


Make = Callable[[str], BlockingEngine]


@pytest.fixture
def blocking() -> Iterator[Make]:
    """Makes blocking engines, and releases them all when the test ends, passed or failed."""
    made: list[BlockingEngine] = []

    def make(name: str = "blocking") -> BlockingEngine:
        made.append(BlockingEngine(name))
        return made[-1]

    yield make
    for engine in made:
        engine.release.set()


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds (a worker thread makes it hold)."""
    while not condition():
        await anyio.lowlevel.checkpoint()


async def test_a_second_request_waits_for_the_first_instead_of_running_beside_it(blocking: Make) -> None:
    engine = blocking("blocking")
    heard: list[str] = []

    async def transcribe() -> None:
        heard.append((await engine.transcribe(AUDIO, 16000)).text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(transcribe)
        await engine.started(1)
        tg.start_soon(transcribe)
        await until(lambda: engine.inference.waiting == 1)  # its thread is parked, not inferring
        assert (engine.runs, engine.busy) == (1, True)
        engine.release.set()
    assert heard == ["blocking 1", "blocking 2"]
    assert engine.most_running == 1
    assert (engine.busy, engine.inference.waiting) == (False, 0)


async def test_a_request_cancelled_while_it_waits_never_runs(blocking: Make) -> None:
    engine = blocking("blocking")
    heard: list[str] = []

    async def transcribe() -> None:
        heard.append((await engine.transcribe(AUDIO, 16000)).text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(transcribe)
        await engine.started(1)
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(transcribe)
            await until(lambda: engine.inference.waiting == 1)
            doomed.cancel_scope.cancel()  # a barge-in, say
        await until(lambda: engine.inference.waiting == 0)  # its parked thread is let go at once
        assert (engine.runs, engine.busy) == (1, True)
        engine.release.set()
    assert heard == ["blocking 1"]
    assert (await engine.transcribe(AUDIO, 16000)).text == "blocking 2"  # the cancelled one never ran
    assert engine.most_running == 1


async def test_an_abandoned_inference_is_waited_for_not_run_beside(blocking: Make) -> None:
    """Cancelled while it runs, a request returns at once; the inference goes on, ``busy`` says so,
    and the next request waits for it."""
    engine = blocking("blocking")
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.transcribe, AUDIO, 16000)
        await engine.started(1)
        tg.cancel_scope.cancel()
    assert (engine.runs, engine.busy) == (1, True)  # returned; the thread still runs
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.transcribe, AUDIO, 16000)
        await until(lambda: engine.inference.waiting == 1)
        assert engine.runs == 1
        engine.release.set()
    assert (engine.runs, engine.most_running, engine.busy) == (2, 1, False)


class Failures:
    """An ``on_error`` callback that records what it is told, and when on ``clock``."""

    def __init__(self, clock: SteppedClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, str, bool, bool, float]] = []

    def __call__(self, error: EngineError, recovering: bool) -> None:
        self.seen.append((type(error).__name__, error.engine, error.retryable, recovering, self.clock.now()))


async def test_after_a_timeout_the_fallback_answers_at_once_with_no_retry_queued_behind_the_stuck_one(blocking: Make) -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = blocking("primary")
    fallback = FakeStt(["from the fallback"], name="fallback")
    stt = ResilientStt(primary, fallback, policy=POLICY, clock=clock, on_error=failures)
    heard: list[tuple[str, float]] = []

    async def transcribe() -> None:
        heard.append(((await stt.transcribe(AUDIO, 16000)).text, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(transcribe)
        await primary.started(1)
        await clock.advance(10.0)  # wakes the timeout's alarm at exactly 10 s
        # Retried on the primary, this would wait 0.25 s, queue behind the stuck inference, time
        # out at 20.25 s, again at 30.75 s, and only then ask the fallback.
        assert heard == [("from the fallback", 10.0)]
    assert failures.seen == [("EngineTimeout", "primary", True, True, 10.0)]
    assert (primary.runs, primary.inference.waiting, primary.busy) == (1, 0, True)  # nothing queued behind it
    assert fallback.calls == 1


async def test_without_a_fallback_the_timeout_is_raised_at_once(blocking: Make) -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = blocking("primary")
    stt = ResilientStt(primary, policy=POLICY, clock=clock, on_error=failures)
    raised: list[tuple[EngineError, float]] = []

    async def transcribe() -> None:
        with pytest.raises(EngineTimeout) as caught:
            await stt.transcribe(AUDIO, 16000)
        raised.append((caught.value, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(transcribe)
        await primary.started(1)
        await clock.advance(10.0)
        assert [(str(e), at) for e, at in raised] == [("primary gave no answer within 10 s", 10.0)]
    assert failures.seen == [("EngineTimeout", "primary", True, False, 10.0)]  # the call says its fallback line
    assert (primary.runs, primary.inference.waiting) == (1, 0)


async def test_once_the_stuck_inference_ends_the_engine_serves_the_next_request_normally(blocking: Make) -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = blocking("primary")
    stt = ResilientStt(primary, FakeStt(["from the fallback"], name="fallback"), policy=POLICY, clock=clock,
                       on_error=failures)  # fmt: skip
    first: list[str] = []

    async def transcribe() -> None:
        first.append((await stt.transcribe(AUDIO, 16000)).text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(transcribe)
        await primary.started(1)
        await clock.advance(10.0)
        assert first == ["from the fallback"]
    assert primary.busy
    primary.release.set()  # the stuck inference ends (in its own time: the next request waits for it)
    # Nobody moves the clock now: the next request's timeout cannot fire, and it takes no clock time.
    assert await stt.transcribe(AUDIO, 16000) == Transcription("primary 2", 0.9, "en")
    assert (primary.runs, primary.most_running, primary.busy) == (2, 1, False)
    assert clock.now() == 10.0
    assert len(failures.seen) == 1  # only the first timeout


async def test_a_tts_stream_stuck_before_its_first_chunk_goes_to_the_fallback_at_once(blocking: Make) -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = blocking("primary")
    fallback = FakeTts(name="fallback")
    tts = ResilientTts(primary, fallback, policy=POLICY, clock=clock, on_error=failures)
    heard: list[tuple[int, float]] = []

    async def speak() -> None:
        audio = np.concatenate([chunk async for chunk in tts.synthesize("Hi.")])
        heard.append((audio.size, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(speak)
        await primary.started(1)
        await clock.advance(10.0)
        assert heard == [(fallback.render("Hi.").size, 10.0)]
    assert failures.seen == [("EngineTimeout", "primary", True, True, 10.0)]
    assert (primary.runs, primary.inference.waiting, fallback.texts) == (1, 0, ["Hi."])
