"""WebRTC's GMM voice activity detector (``webrtcvad-wheels``): tiny, fast, yes/no only."""

from __future__ import annotations

import webrtcvad

from ...errors import ConfigError
from ..base import Pcm

SAMPLE_RATE = 16000
FRAME_SAMPLES = 480  # 30 ms; webrtcvad accepts 10, 20 or 30 ms frames


class WebRtcVad:
    """``mode`` 0-3 trades misses for false alarms; 3 is the most aggressive.

    Mode 2 is the default: on white noise at about -30 dBFS, mode 1 called every noise frame speech.
    """

    name = "webrtc"
    sample_rate = SAMPLE_RATE

    def __init__(self, mode: int = 2) -> None:
        if mode not in (0, 1, 2, 3):
            raise ConfigError(f"vad engine 'webrtc': mode must be 0, 1, 2 or 3, got {mode!r}")
        self.mode = mode

    def stream(self) -> WebRtcStream:
        return WebRtcStream(self.mode)


class WebRtcStream:
    """Per-call detector state. Its probability is 1.0 (speech) or 0.0.

    Right after creation or :meth:`reset` it calls the first few frames (about 90 ms) speech, even
    on quiet noise, while its noise model adapts.
    """

    frame_samples = FRAME_SAMPLES

    def __init__(self, mode: int) -> None:
        self._mode = mode
        self._vad = webrtcvad.Vad(mode)

    def speech_probability(self, frame: Pcm) -> float:
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"webrtc VAD takes frames of {FRAME_SAMPLES} samples at 16 kHz, got shape {frame.shape}")
        return 1.0 if self._vad.is_speech(frame.astype("<i2").tobytes(), SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self._mode)
