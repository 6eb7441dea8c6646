"""Timeouts, retries and fallbacks, exercised with the fake engines on a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from callwright.clock import VirtualClock
from callwright.engines.base import LLMDelta, Message, Pcm, ToolSpec, Transcription
from callwright.engines.fakes import FakeStt, FakeTts
from callwright.engines.resilient import ResilientLlm, ResilientStt, ResilientTts, RetryPolicy
from callwright.errors import EngineError

AUDIO = np.zeros(16000, dtype=np.int16)
FAST = RetryPolicy(timeout=0.05, retries=2, backoff=0.1, max_backoff=1.0)


class Failures:
    """An ``on_error`` callback that records what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[EngineError, bool]] = []

    def __call__(self, error: EngineError, recovering: bool) -> None:
        self.seen.append((error, recovering))

    @property
    def summary(self) -> list[tuple[str, str, bool, bool]]:
        return [(type(e).__name__, e.engine, e.retryable, recovering) for e, recovering in self.seen]


async def collect(chunks: AsyncIterator[Pcm]) -> Pcm:
    return np.concatenate([chunk async for chunk in chunks])


async def test_stt_retries_with_backoff_on_the_clock_then_succeeds() -> None:
    clock, failures = VirtualClock(), Failures()
    primary = FakeStt(["hello"], fail_times=2)
    stt = ResilientStt(primary, policy=FAST, clock=clock, on_error=failures)
    assert await stt.transcribe(AUDIO, 16000) == Transcription("hello", 0.9, "en")
    assert primary.calls == 3
    assert clock.now() == pytest.approx(0.1 + 0.2)
    assert failures.summary == [("EngineError", "fake-stt", True, True)] * 2
    assert stt.name == "fake-stt"


async def test_stt_falls_back_at_once_after_a_non_retryable_failure() -> None:
    clock, failures = VirtualClock(), Failures()
    primary = FakeStt(["never"], fail_times=1, retryable=False, name="primary")
    fallback = FakeStt(["from the fallback"], name="fallback")
    stt = ResilientStt(primary, fallback, policy=FAST, clock=clock, on_error=failures)
    assert (await stt.transcribe(AUDIO, 16000)).text == "from the fallback"
    assert (primary.calls, fallback.calls, clock.now()) == (1, 1, 0.0)
    assert failures.summary == [("EngineError", "primary", False, True)]


async def test_stt_timeout_counts_as_retryable() -> None:
    clock, failures = VirtualClock(), Failures()
    primary = FakeStt(["never"], hang=True, name="primary")
    fallback = FakeStt(["rescued"], name="fallback")
    policy = RetryPolicy(timeout=0.02, retries=1, backoff=0.5)
    stt = ResilientStt(primary, fallback, policy=policy, clock=clock, on_error=failures)
    assert (await stt.transcribe(AUDIO, 16000)).text == "rescued"
    assert primary.calls == 2
    assert failures.summary == [("EngineTimeout", "primary", True, True)] * 2
    assert clock.now() == 0.5


async def test_stt_raises_the_last_error_when_everything_fails() -> None:
    failures = Failures()
    stt = ResilientStt(
        FakeStt([], fail_times=9, name="a"),
        FakeStt([], fail_times=9, name="b"),
        policy=RetryPolicy(retries=1, backoff=0.1),
        clock=VirtualClock(),
        on_error=failures,
    )
    with pytest.raises(EngineError) as caught:
        await stt.transcribe(AUDIO, 16000)
    assert caught.value.engine == "b"
    assert [(engine, recovering) for _, engine, _, recovering in failures.summary] == [
        ("a", True),
        ("a", True),
        ("b", True),
        ("b", False),
    ]


async def test_backoff_doubles_up_to_its_cap() -> None:
    clock = VirtualClock()
    stt = ResilientStt(
        FakeStt(["ok"], fail_times=4), policy=RetryPolicy(retries=4, backoff=0.5, max_backoff=1.5), clock=clock
    )
    await stt.transcribe(AUDIO, 16000)
    assert clock.now() == 0.5 + 1.0 + 1.5 + 1.5


class BrokenStt:
    name = "broken"

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        raise RuntimeError("segfault avoided")


async def test_other_exceptions_become_non_retryable_engine_errors() -> None:
    failures = Failures()
    stt = ResilientStt(BrokenStt(), policy=FAST, clock=VirtualClock(), on_error=failures)
    with pytest.raises(EngineError, match="broken failed: RuntimeError: segfault avoided") as caught:
        await stt.transcribe(AUDIO, 16000)
    assert (caught.value.engine, caught.value.retryable) == ("broken", False)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert failures.summary == [("EngineError", "broken", False, False)]


async def test_tts_falls_back_before_the_first_chunk_and_resamples() -> None:
    failures = Failures()
    primary = FakeTts(sample_rate=16000, fail_times=1, retryable=False, name="primary")
    fallback = FakeTts(sample_rate=8000, name="fallback")
    tts = ResilientTts(primary, fallback, policy=FAST, clock=VirtualClock(), on_error=failures)
    audio = await collect(tts.synthesize("Hello there."))
    assert tts.sample_rate == 16000
    assert audio.size == pytest.approx(fallback.duration("Hello there.") * 16000, abs=2)
    assert fallback.texts == ["Hello there."]
    assert failures.summary == [("EngineError", "primary", False, True)]


async def test_tts_timeout_before_the_first_chunk_is_retried() -> None:
    failures = Failures()
    tts = ResilientTts(
        FakeTts(hang=True, name="primary"),
        FakeTts(name="fallback"),
        policy=RetryPolicy(timeout=0.02, retries=0),
        clock=VirtualClock(),
        on_error=failures,
    )
    assert (await collect(tts.synthesize("Hi."))).size == FakeTts().render("Hi.").size
    assert failures.summary == [("EngineTimeout", "primary", True, True)]


async def test_tts_failure_after_the_first_chunk_is_raised_not_retried() -> None:
    failures = Failures()
    primary = FakeTts(fail_after_chunks=1, name="primary")
    fallback = FakeTts(name="fallback")
    tts = ResilientTts(primary, fallback, policy=FAST, clock=VirtualClock(), on_error=failures)
    heard: list[Pcm] = []
    with pytest.raises(EngineError, match="after 1 chunks"):
        async for chunk in tts.synthesize("A sentence long enough for several chunks."):
            heard.append(chunk)
    assert len(heard) == 1
    assert (primary.texts, fallback.texts) == (["A sentence long enough for several chunks."], [])
    assert failures.summary == [("EngineError", "primary", True, False)]


async def test_tts_consumer_may_stop_early() -> None:
    tts = ResilientTts(FakeTts(), policy=FAST, clock=VirtualClock())
    chunks = tts.synthesize("A sentence long enough for several chunks.")
    first = await anext(chunks)
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
    llm = ResilientLlm(primary, policy=FAST, clock=VirtualClock(), on_error=failures)
    deltas = [delta async for delta in llm.stream([Message("user", "hi")])]
    assert [d.text for d in deltas] == ["primary says hi", ""] and primary.calls == 2
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
        clock=VirtualClock(),
        on_error=failures,
    )
    seen: list[LLMDelta] = []
    with pytest.raises(EngineError, match="ConnectionResetError") as caught:
        async for delta in llm.stream([Message("user", "hi")]):
            seen.append(delta)
    assert [d.text for d in seen] == ["primary says hi"] and fallback.calls == 0
    assert (caught.value.engine, caught.value.retryable) == ("primary", False)
    assert failures.summary == [("EngineError", "primary", False, False)]
