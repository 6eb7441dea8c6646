"""The four engine protocols. An engine is anything with these methods; there is no base class.

Audio crossing these protocols is mono PCM16 as ``numpy.int16``. Blocking engines (most embedded
models) do their work in a worker thread so the event loop keeps serving every other call; the
local ones use :class:`~callwright.engines.inference.InferenceThread` (one inference at a time) and
say with an optional ``busy`` attribute when one still runs after its caller was cancelled.
Failures are raised as :class:`callwright.errors.EngineError` with ``retryable`` set honestly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..audio.pcm import Pcm as Pcm  # the one PCM alias, re-exported for engine authors


# ------------------------------------------------------------------ VAD
class VadStream(Protocol):
    """Per-call VAD state. Feed it exactly ``frame_samples`` samples at a time."""

    frame_samples: int

    def speech_probability(self, frame: Pcm) -> float: ...

    def reset(self) -> None: ...


class VoiceActivityDetector(Protocol):
    name: str
    sample_rate: int  # the rate streams expect (16000 for the embedded ones)

    def stream(self) -> VadStream: ...


# ------------------------------------------------------------------ STT
@dataclass(frozen=True, slots=True)
class Transcription:
    text: str
    confidence: float | None = None  # 0..1 where the engine can tell; None where it cannot
    language: str | None = None


class SpeechToText(Protocol):
    name: str

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription: ...


# ------------------------------------------------------------------ TTS
@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """How to say it: 1.0 is the voice's own rate and pitch."""

    rate: float = 1.0
    pitch: float = 1.0
    voice: str | None = None


class TextToSpeech(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> AsyncIterator[Pcm]:
        """Stream the audio of ``text`` (one sentence, usually) in chunks as they are made."""
        ...


# ------------------------------------------------------------------ LLM
@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    id: str
    name: str
    arguments: dict[str, Any]
    # Why the model's arguments could not be read (not JSON, not an object): they are then ``{}``, the
    # tool does not run, and the model is told so and may call again (small local models slip).
    invalid: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LLMDelta:
    """One streamed piece of a reply: some text, or one complete tool call."""

    text: str = ""
    tool_call: ToolCallRequest | None = None
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


ToolChoice = Literal["auto", "none", "required"] | str
"""How one request may use its tools: ``"auto"`` (the model decides), ``"none"``, ``"required"``,
or the name of the one tool it must call."""


class LanguageModel(Protocol):
    name: str

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, tool_choice: ToolChoice | None = None
    ) -> AsyncIterator[LLMDelta]:
        """Stream one reply. ``tool_choice=None`` is the engine's default (``"auto"`` when there are
        tools); an engine that cannot force a tool may ignore it, as the scripted one does."""
        ...
