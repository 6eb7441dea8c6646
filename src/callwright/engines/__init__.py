"""Speech and language engines behind four small protocols (see :mod:`callwright.engines.base`)."""

from .base import (
    LanguageModel,
    LLMDelta,
    Message,
    SpeechToText,
    TextToSpeech,
    ToolCallRequest,
    ToolSpec,
    Transcription,
    VadStream,
    VoiceActivityDetector,
    VoiceStyle,
)

__all__ = [
    "LLMDelta", "LanguageModel", "Message", "SpeechToText", "TextToSpeech", "ToolCallRequest", "ToolSpec",
    "Transcription", "VadStream", "VoiceActivityDetector", "VoiceStyle",
]
