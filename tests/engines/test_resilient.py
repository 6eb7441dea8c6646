"""Timeouts, retries and fallbacks, exercised with the fake engines on virtual time.

Timeouts and back-off are both taken on the injected clock. A :class:`SteppedClock` moved by its
``run`` wakes every sleeper (an engine taking its time, a timeout's alarm, a back-off) at its exact
deadline, so the times below are exact, and no test waits in real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from callwright.clock import SteppedClock, VirtualClock
from callwright.engines.base import LLMDelta, Message, Pcm, ToolSpec, Transcription, VoiceStyle
from callwright.engines.fakes import FakeStt, FakeTts
from callwright.engines.resilient import ResilientLlm, ResilientStt, ResilientTts, RetryPolicy
from callwright.errors import EngineError

AUDIO = np.zeros(16000, dtype=np.int16)
FAST = RetryPolicy(timeout=0.5, retries=2, backoff=0.125, max_backoff=1.0)  # binary fractions: sums are exact


class Failures:
    """An ``on_error`` callback that records what it is told, and when on ``clock``."""

    def __init__(self, clock: SteppedClock | None = None) -> None:
        self.clock = clock
        self.seen: list[tuple[EngineError, bool]] = []
        self.times: list[float] = []

    def __call__(self, error: EngineError, recovering: bool) -> None:
        self.seen.append((error, recovering))
        if self.clock is not None:
            self.times.append(self.clock.now())

    @property
    def summary(self) -> list[tuple[str, str, bool, bool]]:
        return [(type(e).__name__, e.engine, e.retryable, recovering) for e, recovering in self.seen]


async def collect(chunks: AsyncIterator[Pcm]) -> Pcm:
    return np.concatenate([chunk async for chunk in chunks])


class SlowStt:
    """Answers ``text`` after ``seconds`` on the clock, like an engine that takes its time."""

    def __init__(self, clock: SteppedClock, seconds: float, text: str, name: str = "slow") -> None:
        self.clock, self.seconds, self.text, self.name = clock, seconds, text, name

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        await self.clock.sleep_until(self.clock.now() + self.seconds)
        return Transcription(self.text, 0.9, language)


class SlowTts:
    """Streams one 100 ms chunk after each of ``gaps`` seconds on the clock."""

    name = "slow-tts"
    sample_rate = 16000

    def __init__(self, clock: SteppedClock, gaps: Sequence[float]) -> None:
        self.clock, self.gaps = clock, gaps
        self.sent: list[float] = []  # the clock time each chunk was yielded

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        for gap in self.gaps:
            await self.clock.sleep_until(self.clock.now() + gap)
            self.sent.append(self.clock.now())
            yield np.ones(1600, dtype=np.int16)


async def test_stt_retries_with_backoff_on_the_clock_then_succeeds() -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = FakeStt(["hello"], fail_times=2)
    stt = ResilientStt(primary, policy=FAST, clock=clock, on_error=failures)
    assert await clock.run(lambda: stt.transcribe(AUDIO, 16000)) == Transcription("hello", 0.9, "en")
    assert primary.calls == 3
    assert failures.times == [0.0, 0.125]  # each failure at once; then 0.125 s, then 0.25 s of back-off
    assert clock.now() == 0.375
    assert failures.summary == [("EngineError", "fake-stt", True, True)] * 2
    assert stt.name == "fake-stt"


async def test_stt_falls_back_at_once_after_a_non_retryable_failure() -> None:
    clock, failures = SteppedClock(), Failures()
    primary = FakeStt(["never"], fail_times=1, retryable=False, name="primary")
    fallback = FakeStt(["from the fallback"], name="fallback")
    stt = ResilientStt(primary, fallback, policy=FAST, clock=clock, on_error=failures)
    assert (await clock.run(lambda: stt.transcribe(AUDIO, 16000))).text == "from the fallback"
    assert (primary.calls, fallback.calls, clock.now()) == (1, 1, 0.0)
    assert failures.summary == [("EngineError", "primary", False, True)]


async def test_stt_timeout_counts_as_retryable() -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    primary = FakeStt(["never"], hang=True, name="primary")  # waits forever, on nothing the clock moves
    fallback = FakeStt(["rescued"], name="fallback")
    policy = RetryPolicy(timeout=0.25, retries=1, backoff=0.5)
    stt = ResilientStt(primary, fallback, policy=policy, clock=clock, on_error=failures)
    assert (await clock.run(lambda: stt.transcribe(AUDIO, 16000))).text == "rescued"
    assert primary.calls == 2
    assert failures.summary == [("EngineTimeout", "primary", True, True)] * 2
    assert failures.times == [0.25, 1.0]  # timed out; 0.5 s back-off; timed out again 0.25 s later
    assert clock.now() == 1.0  # the fallback answers at once


async def test_the_timeout_races_an_engine_that_takes_its_time_on_the_same_clock() -> None:
    """Slower than the timeout: cut off at exactly the timeout. Faster: its answer, at its own time."""
    clock = SteppedClock()
    failures = Failures(clock)
    policy = RetryPolicy(timeout=0.5, retries=0)
    stt = ResilientStt(SlowStt(clock, 0.75, "too late", "slow"), SlowStt(clock, 0.25, "in time", "quick"),
                       policy=policy, clock=clock, on_error=failures)
    assert (await clock.run(lambda: stt.transcribe(AUDIO, 16000))).text == "in time"
    assert failures.summary == [("EngineTimeout", "slow", True, True)]
    assert failures.times == [0.5]
    assert clock.now() == 0.75  # 0.5 s waiting for the slow one, 0.25 s for the quick one


async def test_stt_raises_the_last_error_when_everything_fails() -> None:
    failures = Failures()
    clock = SteppedClock()
    stt = ResilientStt(
        FakeStt([], fail_times=9, name="a"),
        FakeStt([], fail_times=9, name="b"),
        policy=RetryPolicy(retries=1, backoff=0.125),
        clock=clock,
        on_error=failures,
    )
    with pytest.raises(EngineError) as caught:
        await clock.run(lambda: stt.transcribe(AUDIO, 16000))
    assert caught.value.engine == "b"
    assert [(engine, recovering) for _, engine, _, recovering in failures.summary] == [
        ("a", True),
        ("a", True),
        ("b", True),
        ("b", False),
    ]
    assert clock.now() == 0.25  # one back-off on each engine


async def test_backoff_doubles_up_to_its_cap() -> None:
    clock = SteppedClock()
    stt = ResilientStt(
        FakeStt(["ok"], fail_times=4), policy=RetryPolicy(retries=4, backoff=0.5, max_backoff=1.5), clock=clock
    )
    await clock.run(lambda: stt.transcribe(AUDIO, 16000))
    assert clock.now() == 0.5 + 1.0 + 1.5 + 1.5


class BrokenStt:
    name = "broken"

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        raise RuntimeError("segfault avoided")


async def test_other_exceptions_become_non_retryable_engine_errors() -> None:
    failures = Failures()
    clock = SteppedClock()
    stt = ResilientStt(BrokenStt(), policy=FAST, clock=clock, on_error=failures)
    with pytest.raises(EngineError, match="broken failed: RuntimeError: segfault avoided") as caught:
        await clock.run(lambda: stt.transcribe(AUDIO, 16000))
    assert (caught.value.engine, caught.value.retryable) == ("broken", False)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert failures.summary == [("EngineError", "broken", False, False)]


async def test_tts_falls_back_before_the_first_chunk_and_resamples() -> None:
    failures = Failures()
    primary = FakeTts(sample_rate=16000, fail_times=1, retryable=False, name="primary")
    fallback = FakeTts(sample_rate=8000, name="fallback")
    clock = SteppedClock()
    tts = ResilientTts(primary, fallback, policy=FAST, clock=clock, on_error=failures)
    audio = await clock.run(lambda: collect(tts.synthesize("Hello there.")))
    assert tts.sample_rate == 16000
    assert audio.size == pytest.approx(fallback.duration("Hello there.") * 16000, abs=2)
    assert fallback.texts == ["Hello there."]
    assert failures.summary == [("EngineError", "primary", False, True)]


async def test_tts_timeout_before_the_first_chunk_is_retried() -> None:
    clock = SteppedClock()
    failures = Failures(clock)
    tts = ResilientTts(
        FakeTts(hang=True, name="primary"),
        FakeTts(name="fallback"),
        policy=RetryPolicy(timeout=0.25, retries=0),
        clock=clock,
        on_error=failures,
    )
    assert (await clock.run(lambda: collect(tts.synthesize("Hi.")))).size == FakeTts().render("Hi.").size
    assert failures.summary == [("EngineTimeout", "primary", True, True)]
    assert failures.times == [0.25] and clock.now() == 0.25


async def test_the_stream_timeout_bounds_each_chunk_not_the_whole_stream() -> None:
    """Three chunks 0.375 s apart take 1.125 s in all, within a 0.5 s timeout per chunk; a gap of
    0.75 s after the first chunk is cut off at exactly 0.5 s and raised (a caller heard the start)."""
    clock = SteppedClock()
    steady = SlowTts(clock, [0.375, 0.375, 0.375])
    tts = ResilientTts(steady, policy=RetryPolicy(timeout=0.5, retries=0), clock=clock)
    audio = await clock.run(lambda: collect(tts.synthesize("Hi.")))
    assert audio.size == 3 * 1600 and steady.sent == [0.375, 0.75, 1.125]

    clock = SteppedClock()
    failures = Failures(clock)
    stalls = SlowTts(clock, [0.25, 0.75, 0.25])
    tts = ResilientTts(stalls, policy=RetryPolicy(timeout=0.5, retries=2), clock=clock, on_error=failures)
    heard: list[Pcm] = []

    async def listen() -> None:
        async for chunk in tts.synthesize("Hi."):
            heard.append(chunk)

    with pytest.raises(EngineError, match=r"slow-tts streamed nothing for 0\.5 s"):
        await clock.run(listen)
    assert len(heard) == 1 and stalls.sent == [0.25]
    assert failures.summary == [("EngineTimeout", "slow-tts", True, False)]  # raised, not retried
    assert failures.times == [0.75]  # 0.5 s after the first chunk


async def test_tts_failure_after_the_first_chunk_is_raised_not_retried() -> None:
    failures = Failures()
    primary = FakeTts(fail_after_chunks=1, name="primary")
    fallback = FakeTts(name="fallback")
    clock = SteppedClock()
    tts = ResilientTts(primary, fallback, policy=FAST, clock=clock, on_error=failures)
    heard: list[Pcm] = []

    async def listen() -> None:
        async for chunk in tts.synthesize("A sentence long enough for several chunks."):
            heard.append(chunk)

    with pytest.raises(EngineError, match="after 1 chunks"):
        await clock.run(listen)
    assert len(heard) == 1
    assert (primary.texts, fallback.texts) == (["A sentence long enough for several chunks."], [])
    assert failures.summary == [("EngineError", "primary", True, False)]


async def test_tts_consumer_may_stop_early() -> None:
    clock = SteppedClock()
    tts = ResilientTts(FakeTts(), policy=FAST, clock=clock)
    chunks = tts.synthesize("A sentence long enough for several chunks.")
    first = await clock.run(lambda: anext(chunks))
    await chunks.aclose()  # type: ignore[attr-defined]  # an async generator in fact
    assert first.size == FakeTts().chunk_samples


class FlakyLlm:
    """Fails its first ``fail_times`` streams, before or after the first delta."""

    def __init__(self, name: str, fail_times: int, after_first: bool) -> None:
        self.name = name
        self.fail_times = fail_times
        self.after_first = after_first
        self.calls = 0
        self.tool_choices: list[str | None] = []

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, tool_choice: str | None = None
    ) -> AsyncIterator[LLMDelta]:
        self.calls += 1
        self.tool_choices.append(tool_choice)
        failing = self.calls <= self.fail_times
        if failing and not self.after_first:
            raise EngineError("rate limited", engine=self.name, retryable=True)
        yield LLMDelta(text=f"{self.name} says hi")
        if failing:
            raise ConnectionResetError("connection lost")
        yield LLMDelta(finish_reason="stop")


async def test_llm_retries_before_the_first_delta() -> None:
    failures = Failures()
    primary = FlakyLlm("primary", fail_times=1, after_first=False)
    clock = SteppedClock()
    llm = ResilientLlm(primary, policy=FAST, clock=clock, on_error=failures)

    async def read() -> list[LLMDelta]:
        return [delta async for delta in llm.stream([Message("user", "hi")])]

    deltas = await clock.run(read)
    assert [d.text for d in deltas] == ["primary says hi", ""] and primary.calls == 2
    assert clock.now() == 0.125  # one back-off
    assert failures.summary == [("EngineError", "primary", True, True)]


async def test_llm_passes_tool_choice_to_every_attempt() -> None:
    """The agents force a tool on a turn's first request and say "none" on the last: the wrapper
    must hand that to the engine it tries, the retry and the fallback included."""
    primary = FlakyLlm("primary", fail_times=3, after_first=False)  # fails the first try and both retries
    fallback = FlakyLlm("fallback", fail_times=0, after_first=False)
    llm = ResilientLlm(primary, fallback, policy=FAST, clock=VirtualClock())
    deltas = [d async for d in llm.stream([Message("user", "hi")], [ToolSpec("lookup", "", {})], tool_choice="none")]
    assert [d.text for d in deltas] == ["fallback says hi", ""]
    assert (primary.tool_choices, fallback.tool_choices) == (["none"] * 3, ["none"])
    [_ async for _ in llm.stream([Message("user", "hi")])]
    assert primary.tool_choices[-1] is None  # not given: the engine's default


async def test_llm_failure_after_the_first_delta_is_wrapped_and_raised() -> None:
    failures = Failures()
    fallback = FlakyLlm("fallback", fail_times=0, after_first=False)
    llm = ResilientLlm(
        FlakyLlm("primary", fail_times=1, after_first=True),
        fallback,
        policy=FAST,
        clock=SteppedClock(),
        on_error=failures,
    )
    seen: list[LLMDelta] = []
    with pytest.raises(EngineError, match="ConnectionResetError") as caught:
        async for delta in llm.stream([Message("user", "hi")]):
            seen.append(delta)  # nothing here waits on the clock, so nothing needs to move it
    assert [d.text for d in seen] == ["primary says hi"] and fallback.calls == 0
    assert (caught.value.engine, caught.value.retryable) == ("primary", False)
    assert failures.summary == [("EngineError", "primary", False, False)]
