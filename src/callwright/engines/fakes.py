"""Fast, deterministic engines behind the real protocols, for testing agents without models.

* :class:`FakeStt` answers from a script (or a function of the audio's duration) and can fail or hang.
* :class:`FakeTts` "speaks" a tone whose length follows the text, in chunks, and can fail.
* :class:`EnergyVad` calls a frame speech when it is loud enough.

They take no time of their own: latency in a test comes from the clock and from what you inject.
``compute_s`` injects compute: each transcription (each sentence synthesised) first keeps a worker
thread busy that long through :func:`~callwright.clock.offload`, as a model's inference does, so a
test on a :class:`~callwright.clock.SteppedClock` that charges compute sees it on the clock (a cost
model can name it: ``Compute.func == stt.infer``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence

import anyio
import anyio.lowlevel
import numpy as np

from ..audio.pcm import rms_dbfs
from ..clock import offload
from ..errors import EngineError
from .base import Pcm, Transcription, VoiceStyle


def spin(seconds: float) -> None:
    """Keep this thread's CPU busy for ``seconds``: a stand-in for a model's inference."""
    end = time.perf_counter() + seconds  # wall time: spending it is the point
    while time.perf_counter() < end:
        pass


class FakeStt:
    """Transcribes by script: each call returns the next text of ``script``, or ``script(seconds)``.

    ``fail_times`` makes the first N calls raise an :class:`EngineError` (``retryable`` as given);
    ``hang`` makes every call wait forever (until cancelled), to exercise timeouts. A script that
    runs out raises a non-retryable :class:`EngineError`. ``calls`` counts every call, failed or not.
    ``compute_s``: real seconds of compute each call spends in :meth:`infer` (see the module docstring).
    """

    def __init__(
        self,
        script: Sequence[str] | Callable[[float], str],
        *,
        confidence: float | None = 0.9,
        language: str = "en",
        fail_times: int = 0,
        retryable: bool = True,
        hang: bool = False,
        compute_s: float = 0.0,
        name: str = "fake-stt",
    ) -> None:
        self.name = name
        self.compute_s = compute_s
        self.script = script if callable(script) else tuple(script)
        self.confidence = confidence
        self.language = language
        self.fail_times = fail_times
        self.retryable = retryable
        self.hang = hang
        self.calls = 0
        self._next = 0

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        if self.hang:
            await anyio.sleep_forever()
        if self.compute_s > 0:
            await offload(self.infer)
        if self.calls <= self.fail_times:
            raise EngineError(
                f"scripted failure {self.calls} of {self.fail_times}", engine=self.name, retryable=self.retryable
            )
        if callable(self.script):
            text = self.script(audio.size / sample_rate)
        else:
            if self._next >= len(self.script):
                raise EngineError(
                    f"script exhausted after {len(self.script)} transcriptions; add more lines", engine=self.name
                )
            text = self.script[self._next]
            self._next += 1
        return Transcription(text, self.confidence, self.language)

    def infer(self) -> None:
        """The transcription's compute: ``compute_s`` seconds of it, in a worker thread."""
        spin(self.compute_s)


class FakeTts:
    """Synthesises a sine tone: ``ms_per_char`` ms of audio per character at rate 1.0, in chunks.

    ``VoiceStyle.rate`` shortens the audio, ``pitch`` scales the tone's frequency. ``fail_times``
    makes the first N calls raise before any audio; ``fail_after_chunks`` makes every call raise
    after that many chunks (a failure in mid-sentence); ``hang`` makes calls wait forever before
    the first chunk. ``texts`` records what was asked, failed or not. ``compute_s``: real seconds
    of compute before each sentence's first chunk, in :meth:`infer` (see the module docstring).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        ms_per_char: float = 60.0,
        chunk_ms: int = 100,
        frequency: float = 220.0,
        amplitude: float = 0.3,
        fail_times: int = 0,
        retryable: bool = True,
        fail_after_chunks: int | None = None,
        hang: bool = False,
        compute_s: float = 0.0,
        name: str = "fake-tts",
    ) -> None:
        self.name = name
        self.compute_s = compute_s
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.chunk_samples = max(1, sample_rate * chunk_ms // 1000)
        self.frequency = frequency
        self.amplitude = amplitude
        self.fail_times = fail_times
        self.retryable = retryable
        self.fail_after_chunks = fail_after_chunks
        self.hang = hang
        self.texts: list[str] = []

    def duration(self, text: str, style: VoiceStyle | None = None) -> float:
        """Seconds of audio :meth:`synthesize` makes for ``text``."""
        return len(text) * self.ms_per_char / 1000.0 / (style or VoiceStyle()).rate

    def render(self, text: str, style: VoiceStyle | None = None) -> Pcm:
        """The whole audio of ``text`` at once."""
        style = style or VoiceStyle()
        t = np.arange(round(self.duration(text, style) * self.sample_rate)) / self.sample_rate
        tone = self.amplitude * np.sin(2 * np.pi * self.frequency * style.pitch * t)
        return (tone * 32767).astype(np.int16)

    async def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        self.texts.append(text)
        await anyio.lowlevel.checkpoint()
        if self.hang:
            await anyio.sleep_forever()
        if self.compute_s > 0:
            await offload(self.infer)
        if len(self.texts) <= self.fail_times:
            raise EngineError(
                f"scripted failure {len(self.texts)} of {self.fail_times}", engine=self.name, retryable=self.retryable
            )
        audio = self.render(text, style)
        for index, start in enumerate(range(0, audio.size, self.chunk_samples)):
            if index == self.fail_after_chunks:
                raise EngineError(f"scripted failure after {index} chunks", engine=self.name, retryable=self.retryable)
            yield audio[start : start + self.chunk_samples]
            await anyio.lowlevel.checkpoint()

    def infer(self) -> None:
        """A sentence's compute: ``compute_s`` seconds of it, in a worker thread."""
        spin(self.compute_s)


class EnergyVad:
    """Loudness as speech: probability rises linearly from 0 to 1 across ``threshold_db ± width_db/2``.

    Stateless, so the detector is its own stream. 320-sample (20 ms) frames at 16 kHz.
    """

    name = "energy"
    sample_rate = 16000
    frame_samples = 320

    def __init__(self, threshold_db: float = -40.0, width_db: float = 10.0) -> None:
        self.threshold_db = threshold_db
        self.width_db = width_db

    def stream(self) -> EnergyVad:
        return self

    def speech_probability(self, frame: Pcm) -> float:
        level = rms_dbfs(frame)
        if self.width_db <= 0:
            return 1.0 if level >= self.threshold_db else 0.0
        return float(min(1.0, max(0.0, 0.5 + (level - self.threshold_db) / self.width_db)))

    def reset(self) -> None:
        """Nothing to reset."""
