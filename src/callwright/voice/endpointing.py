"""Turn-taking on audio time.

The :class:`Endpointer` counts samples, never reads a clock: a recording replayed ten times faster
than real time yields exactly the same speech segments. It asks a VAD stream for a probability per
VAD frame and turns those into onsets, stops and finished segments.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..engines.base import Pcm, VadStream


@dataclass(frozen=True, slots=True)
class TurnTaking:
    """When the caller's turn starts and ends.

    ``endpoint_silence_ms`` is how long the caller must pause before the turn is over; the Call
    can stretch it while the caller reads out a number or an address (``patience``).
    """

    speech_threshold: float = 0.5
    min_speech_ms: int = 160  # a segment with less voiced audio than this is noise, not a turn
    endpoint_silence_ms: int = 600
    pre_roll_ms: int = 240
    max_turn_ms: int = 30_000


@dataclass(frozen=True, slots=True)
class Onset:
    audio_ms: float


@dataclass(frozen=True, slots=True)
class Resume:
    """Voiced audio started again inside the same turn (after a pause shorter than the endpoint)."""

    audio_ms: float


@dataclass(frozen=True, slots=True)
class Stop:
    """Voiced audio stopped (the turn may still go on if speech resumes)."""

    audio_ms: float


@dataclass(frozen=True, slots=True)
class Segment:
    """A finished caller turn: its audio (with pre-roll) and where it lies in the call's audio."""

    audio: Pcm
    start_ms: float
    end_ms: float
    speech_ms: float


@dataclass(frozen=True, slots=True)
class Discarded:
    """A segment too short to be a turn (a click, a cough, a breath)."""

    start_ms: float
    speech_ms: float


SegmentEvent = Onset | Resume | Stop | Segment | Discarded


class Endpointer:
    def __init__(self, vad: VadStream, options: TurnTaking, sample_rate: int = 16000) -> None:
        self.options = options
        self.patience = 1.0
        self._vad = vad
        self._rate = sample_rate
        self._hop = vad.frame_samples
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples = 0  # samples consumed by the VAD so far: the audio clock
        self._pre_roll: deque[Pcm] = deque(maxlen=max(1, options.pre_roll_ms * sample_rate // 1000 // self._hop))
        self._segment: list[Pcm] = []
        self._in_segment = False
        self._voiced = False
        self._start = 0
        self._last_voice_end = 0
        self._speech_samples = 0
        self._silence_samples = 0

    # ---------------------------------------------------------------- state for the Call
    @property
    def audio_ms(self) -> float:
        return self._samples * 1000 / self._rate

    @property
    def in_speech(self) -> bool:
        """True from onset until the segment is finished or discarded."""
        return self._in_segment

    @property
    def voiced(self) -> bool:
        return self._voiced

    @property
    def speech_ms(self) -> float:
        """Voiced audio in the current segment so far."""
        return self._speech_samples * 1000 / self._rate

    def current_audio(self, last_ms: float | None = None) -> Pcm:
        """The current segment's audio so far (or only its last ``last_ms``)."""
        if not self._segment:
            return np.zeros(0, dtype=np.int16)
        audio = np.concatenate(self._segment)
        if last_ms is not None:
            audio = audio[-int(last_ms * self._rate / 1000) :]
        return audio

    def reset(self) -> None:
        """Forget the current segment (after it was judged echo or a backchannel).

        Its most recent audio becomes the pre-roll, so a segment that starts right away begins
        with the audio just before it, never with stale audio from before the forgotten one.
        """
        self._pre_roll = deque(self._segment[-(self._pre_roll.maxlen or 1) :], maxlen=self._pre_roll.maxlen)
        self._segment = []
        self._in_segment = False
        self._voiced = False
        self._speech_samples = 0
        self._silence_samples = 0

    # ---------------------------------------------------------------- feeding
    def feed(self, pcm: Pcm) -> list[SegmentEvent]:
        events: list[SegmentEvent] = []
        buf = np.concatenate((self._pending, pcm)) if self._pending.size else pcm
        hop = self._hop
        usable = buf.size - buf.size % hop
        for i in range(0, usable, hop):
            self._step(buf[i : i + hop], events)
        self._pending = buf[usable:].copy()
        return events

    def _step(self, frame: Pcm, events: list[SegmentEvent]) -> None:
        o = self.options
        p = self._vad.speech_probability(frame)
        is_speech = p >= o.speech_threshold if not self._voiced else p >= o.speech_threshold - 0.15
        start = self._samples
        self._samples += frame.size
        if not self._in_segment:
            self._pre_roll.append(frame)
            if is_speech:
                self._in_segment = True
                self._voiced = True
                self._start = start - (len(self._pre_roll) - 1) * frame.size
                self._segment = list(self._pre_roll)
                self._speech_samples = frame.size
                self._silence_samples = 0
                self._last_voice_end = self._samples
                events.append(Onset(start * 1000 / self._rate))
            return
        self._segment.append(frame)
        if is_speech:
            if not self._voiced:
                self._voiced = True
                events.append(Resume(start * 1000 / self._rate))
            self._speech_samples += frame.size
            self._silence_samples = 0
            self._last_voice_end = self._samples
        else:
            if self._voiced:
                self._voiced = False
                self._last_voice_end = start
                events.append(Stop(start * 1000 / self._rate))
            self._silence_samples += frame.size
        limit = o.endpoint_silence_ms * self.patience * self._rate / 1000
        too_long = (self._samples - self._start) * 1000 / self._rate >= o.max_turn_ms
        if self._silence_samples >= limit or too_long:
            self._finish(events)

    def _finish(self, events: list[SegmentEvent]) -> None:
        speech_ms = self.speech_ms
        start_ms = self._start * 1000 / self._rate
        if speech_ms < self.options.min_speech_ms:
            events.append(Discarded(start_ms, speech_ms))
        else:
            audio = np.concatenate(self._segment)
            tail = int(0.15 * self._rate)  # keep a little trailing silence: STT likes a clean ending
            keep = min(audio.size, (self._last_voice_end - self._start) + tail)
            if self._voiced:
                events.append(Stop(self._samples * 1000 / self._rate))
            events.append(Segment(audio[:keep], start_ms, self._last_voice_end * 1000 / self._rate, speech_ms))
        self.reset()
