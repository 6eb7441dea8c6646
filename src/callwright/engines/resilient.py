"""Timeouts, retries and a fallback engine around any engine, by composition.

``ResilientStt(WhisperStt(), fallback=MoonshineStt())`` is itself a :class:`SpeechToText`. Each
attempt gets ``policy.timeout`` seconds; a retryable :class:`EngineError` or a timeout is retried
``policy.retries`` times with exponential backoff, then the fallback engine gets the same treatment.
A non-retryable error skips straight to the fallback. Any other exception an engine raises is
wrapped in a non-retryable :class:`EngineError` naming the engine.

A timeout that leaves the engine ``busy`` is not retried on that engine. The local engines
(Moonshine, Whisper, Piper) compute in a thread that cannot be stopped, so the timed-out inference
goes on and ``busy`` stays True until it ends (see :mod:`callwright.engines.inference`); a retry
would only wait behind it, and with the default policy a stuck engine would keep the caller in
silence for three timeouts before the fallback line. So the fallback engine gets the next attempt
at once or, without one, the timeout is raised at once (after an STT failure the call says its
fallback line). An engine with no ``busy`` attribute (the language model: its cancelled request is
closed) is retried as before, and so is an engine whose timed-out work has ended by the time it is
checked.

Streams (TTS audio, LLM deltas) are retried or handed to the fallback only while nothing has been
yielded: once a caller has heard part of a sentence, a silent retry would repeat or garble it, so a
later failure is raised. For streams the timeout bounds the wait for each item.

Timeouts and backoff pauses are taken on the injected :class:`~callwright.clock.Clock` (the call's),
so tests on a virtual clock do not wait and see exact times. A timeout races the engine: on a
:class:`~callwright.clock.VirtualClock` that is exact only for an engine that waits on something
else (a hung connection); an engine that itself sleeps on the clock needs a
:class:`~callwright.clock.SteppedClock`. ``on_error(error, recovering)`` is called for every
failure, with ``recovering`` True when another attempt (a retry or the fallback) follows; the call
records these as events.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from ..audio.resample import Resampler
from ..clock import Clock, MonotonicClock, TimedOut, within
from ..errors import EngineError, EngineTimeout
from .base import LanguageModel, LLMDelta, Message, Pcm, SpeechToText, TextToSpeech, ToolSpec, Transcription, VoiceStyle

OnError = Callable[[EngineError, bool], None]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


E = TypeVar("E", bound=_Named)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try each engine before moving on."""

    timeout: float | None = 10.0  # seconds per attempt (per item for streams); None: no limit
    retries: int = 2  # further attempts after a retryable failure or a timeout
    backoff: float = 0.2  # pause before the first retry, doubled before each next one
    max_backoff: float = 2.0


class _End:
    """Marks the end of a stream."""


_END = _End()


class Recovery:
    """Runs attempts on a list of engines (primary first) under one policy. Shared by the wrappers."""

    def __init__(
        self, policy: RetryPolicy | None = None, clock: Clock | None = None, on_error: OnError | None = None
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.clock = clock or MonotonicClock()
        self.on_error = on_error

    async def call(self, engines: Sequence[E], attempt: Callable[[E], Awaitable[T]]) -> T:
        """Await ``attempt(engine)`` until one succeeds; raise the last error if none does."""
        _require(engines)
        for index, engine in enumerate(engines):
            for retry in range(self.policy.retries + 1):
                try:
                    return await self._attempt(engine, attempt)
                except EngineError as error:
                    if not await self._recover(error, engine, retry, last_engine=index == len(engines) - 1):
                        break
        raise AssertionError("unreachable: the last engine's failure is raised")  # pragma: no cover

    async def stream(self, engines: Sequence[E], open_stream: Callable[[E], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Yield the items of ``open_stream(engine)``, moving on only while nothing was yielded."""
        _require(engines)
        for index, engine in enumerate(engines):
            for retry in range(self.policy.retries + 1):
                started = False
                items: AsyncIterator[T] | None = None
                try:
                    items = _open(engine, open_stream)
                    while not isinstance(item := await self._next(engine, items), _End):
                        started = True
                        yield item
                    return
                except EngineError as error:
                    if started:
                        self._report(error, recovering=False)
                        raise
                    if not await self._recover(error, engine, retry, last_engine=index == len(engines) - 1):
                        break
                finally:
                    if items is not None:
                        await _close(items)

    async def _attempt(self, engine: E, attempt: Callable[[E], Awaitable[T]]) -> T:
        try:
            result = await within(self.clock, self._timeout, lambda: attempt(engine))
        except EngineError:
            raise
        except Exception as exc:
            raise _wrap(exc, engine) from exc
        if isinstance(result, TimedOut):
            raise EngineTimeout(f"{engine.name} gave no answer within {self._timeout:g} s", engine=engine.name)
        return result

    async def _next(self, engine: E, items: AsyncIterator[T]) -> T | _End:
        try:
            item = await within(self.clock, self._timeout, lambda: anext(items))
        except StopAsyncIteration:
            return _END
        except EngineError:
            raise
        except Exception as exc:
            raise _wrap(exc, engine) from exc
        if isinstance(item, TimedOut):
            raise EngineTimeout(f"{engine.name} streamed nothing for {self._timeout:g} s", engine=engine.name)
        return item

    async def _recover(self, error: EngineError, engine: _Named, retry: int, *, last_engine: bool) -> bool:
        """Report ``error``; back off and return True to retry, False to go to the next engine; or raise."""
        again = error.retryable and retry < self.policy.retries and not _still_busy(error, engine)
        self._report(error, recovering=again or not last_engine)
        if again:
            delay = min(self.policy.backoff * 2**retry, self.policy.max_backoff)
            await self.clock.sleep_until(self.clock.now() + delay)
            return True
        if last_engine:
            raise error
        return False

    def _report(self, error: EngineError, *, recovering: bool) -> None:
        if self.on_error is not None:
            self.on_error(error, recovering)

    @property
    def _timeout(self) -> float:
        return math.inf if self.policy.timeout is None else self.policy.timeout


def _require(engines: Sequence[_Named]) -> None:
    if not engines:
        raise ValueError("Recovery needs at least one engine")


def _still_busy(error: EngineError, engine: _Named) -> bool:
    """A timeout that left the engine's inference running: a retry would only wait behind it."""
    return isinstance(error, EngineTimeout) and getattr(engine, "busy", False) is True


def _wrap(exc: Exception, engine: _Named) -> EngineError:
    return EngineError(f"{engine.name} failed: {type(exc).__name__}: {exc}", engine=engine.name, retryable=False)


def _open(engine: E, open_stream: Callable[[E], AsyncIterator[T]]) -> AsyncIterator[T]:
    try:
        return open_stream(engine)
    except EngineError:
        raise
    except Exception as exc:
        raise _wrap(exc, engine) from exc


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


class ResilientStt:
    """A :class:`SpeechToText` that times out, retries and falls back (see the module docstring)."""

    def __init__(
        self,
        primary: SpeechToText,
        fallback: SpeechToText | None = None,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self.name = primary.name
        self.engines = (primary,) if fallback is None else (primary, fallback)
        self.recovery = Recovery(policy, clock, on_error)

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        return await self.recovery.call(
            self.engines, lambda engine: engine.transcribe(audio, sample_rate, language=language)
        )


class ResilientTts:
    """A :class:`TextToSpeech` that times out, retries and falls back before the first chunk.

    Audio from a fallback with another sample rate is resampled to the primary's ``sample_rate``.
    """

    def __init__(
        self,
        primary: TextToSpeech,
        fallback: TextToSpeech | None = None,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self.name = primary.name
        self.sample_rate = primary.sample_rate
        self.engines = (primary,) if fallback is None else (primary, fallback)
        self.recovery = Recovery(policy, clock, on_error)

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        def open_stream(engine: TextToSpeech) -> AsyncIterator[Pcm]:
            chunks = engine.synthesize(text, style)
            return chunks if engine.sample_rate == self.sample_rate else _resampled(chunks, engine, self.sample_rate)

        return self.recovery.stream(self.engines, open_stream)


async def _resampled(chunks: AsyncIterator[Pcm], engine: TextToSpeech, rate: int) -> AsyncIterator[Pcm]:
    resampler = Resampler(engine.sample_rate, rate)
    try:
        async for chunk in chunks:
            if (out := resampler(chunk)).size:
                yield out
        if (tail := resampler(np.zeros(0, dtype=np.int16), last=True)).size:
            yield tail
    finally:
        await _close(chunks)


class ResilientLlm:
    """A :class:`LanguageModel` that times out, retries and falls back before the first delta."""

    def __init__(
        self,
        primary: LanguageModel,
        fallback: LanguageModel | None = None,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self.name = primary.name
        self.engines = (primary,) if fallback is None else (primary, fallback)
        self.recovery = Recovery(policy, clock, on_error)

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, tool_choice: str | None = None
    ) -> AsyncIterator[LLMDelta]:
        return self.recovery.stream(self.engines, lambda engine: engine.stream(messages, tools, tool_choice=tool_choice))

    async def aclose(self) -> None:
        for engine in self.engines:
            close = getattr(engine, "aclose", None)
            if close is not None:
                await close()
