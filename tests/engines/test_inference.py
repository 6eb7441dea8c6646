"""One inference thread per engine, and no stacking of abandoned inferences.

The engine here computes the way the local engines do, in its :class:`InferenceThread`, and each of
its inferences blocks a real thread until the test releases it, like a stuck model.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np
import pytest

from callwright.engines.base import Pcm, Transcription, VoiceStyle
from callwright.engines.inference import InferenceThread

AUDIO = np.zeros(16000, dtype=np.int16)


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
