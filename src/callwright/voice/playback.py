"""Agent audio out: real-time pacing and the playback cursor.

The :class:`Playout` holds the agent's synthesised audio and releases it one 20 ms frame at a time
on the call's clock, a little ahead of real time (``lead_ms``) so the client's jitter buffer never
runs dry. It knows, per agent turn, which sentence every sample belongs to, so when the caller
barges in it can say exactly what the caller heard: whole sentences already played, plus the
played share of the current one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import anyio
import numpy as np

from ..audio.pcm import Pcm


@dataclass(slots=True)
class _Sentence:
    text: str
    start: int  # sample offsets in the turn's audio
    end: int


@dataclass(slots=True)
class TurnAudio:
    """What one agent turn has queued and sent."""

    turn: int
    sentences: list[_Sentence] = field(default_factory=list)
    queued: int = 0  # samples handed to the playout
    sent: int = 0  # samples released to the transport
    acked: int = 0  # samples the client confirmed played (marks)
    first_sent_at: float | None = None

    def heard_text(self, samples: int) -> str:
        words: list[str] = []
        for s in self.sentences:
            if samples >= s.end:
                words.extend(s.text.split())
            elif samples > s.start:
                sentence_words = s.text.split()
                share = (samples - s.start) / max(1, s.end - s.start)
                words.extend(sentence_words[: int(len(sentence_words) * share)])
                break
            else:
                break
        return " ".join(words)

    @property
    def planned_text(self) -> str:
        return " ".join(s.text for s in self.sentences)


@dataclass(frozen=True, slots=True)
class Stopped:
    """What was heard of a turn when playback was cut."""

    turn: int
    heard_samples: int
    heard_ms: float
    heard_text: str
    planned_text: str


def _notify(event: anyio.Event) -> anyio.Event:
    """Wake every task waiting on ``event``; the event the next waiters are to wait on."""
    event.set()
    return anyio.Event()


class Playout:
    """The agent's queued audio, released frame by frame by one consumer (:meth:`next_frame`).

    Any number of tasks may wait on it (:meth:`add_sentence` for room, :meth:`drained` for a turn to
    leave): each change sets the event every waiter holds and puts a fresh one in its place, so no
    waiter can miss a wake-up by waiting on an event that was replaced under it.
    """

    def __init__(self, sample_rate: int, frame_ms: int = 20, lead_ms: int = 60) -> None:
        self.sample_rate = sample_rate
        self.frame = sample_rate * frame_ms // 1000
        self.frame_s = frame_ms / 1000
        self.lead = sample_rate * lead_ms // 1000
        self._queue: deque[tuple[TurnAudio, Pcm, str | None]] = deque()
        self._queued_samples = 0
        self._wake = anyio.Event()  # set when audio is queued
        self._space = anyio.Event()  # set when audio leaves the queue or is dropped
        self._generation = 0
        self.current: TurnAudio | None = None
        self.frames_sent = 0
        self._busy_until = 0.0

    # ---------------------------------------------------------------- producer side
    def begin_turn(self, turn: int) -> TurnAudio:
        self.current = TurnAudio(turn)
        return self.current

    async def add_sentence(self, audio: TurnAudio, text: str, pcm: Pcm, *, max_buffer_s: float = 8.0) -> None:
        """Queue one sentence's audio. Waits (backpressure) while more than ``max_buffer_s`` is queued."""
        while self._queued_samples > max_buffer_s * self.sample_rate and audio is self.current:
            await self._space.wait()
        if audio is not self.current:
            return  # the turn was stopped (barge-in) while this sentence waited: it must never play
        start = audio.queued
        audio.queued += pcm.size
        audio.sentences.append(_Sentence(text, start, audio.queued))
        mark = f"{audio.turn}:{len(audio.sentences)}:{audio.queued}"
        for i in range(0, pcm.size, self.frame):
            chunk = pcm[i : i + self.frame]
            if chunk.size < self.frame:
                chunk = np.concatenate((chunk, np.zeros(self.frame - chunk.size, dtype=np.int16)))
            last = i + self.frame >= pcm.size
            self._queue.append((audio, chunk, mark if last else None))
            self._queued_samples += chunk.size
        self._wake = _notify(self._wake)

    def speaking(self, now: float) -> bool:
        """True while agent audio is queued, or sent but (by our estimate) still playing at the client."""
        return bool(self._queue) or now < self._busy_until

    async def drained(self, audio: TurnAudio) -> None:
        """Return when every sample of ``audio`` has been released to the transport."""
        while any(item[0] is audio for item in self._queue):
            await self._space.wait()

    # ---------------------------------------------------------------- consumer side
    async def next_frame(self) -> tuple[int, TurnAudio, Pcm, str | None]:
        while not self._queue:
            await self._wake.wait()
        audio, chunk, mark = self._queue.popleft()
        self._queued_samples -= chunk.size
        self._space = _notify(self._space)
        return self._generation, audio, chunk, mark

    def is_current(self, generation: int) -> bool:
        return generation == self._generation

    def record_sent(self, audio: TurnAudio, samples: int, now: float) -> None:
        if audio.first_sent_at is None:
            audio.first_sent_at = now
        audio.sent += samples
        self.frames_sent += 1
        self._busy_until = now + (samples + self.lead) / self.sample_rate

    def acknowledge(self, mark: str) -> None:
        """A client confirmed a mark: everything before it has played."""
        try:
            turn_s, _, samples_s = mark.split(":")
            turn, samples = int(turn_s), int(samples_s)
        except ValueError:
            return
        cur = self.current
        if cur is not None and cur.turn == turn:
            cur.acked = max(cur.acked, samples)

    # ---------------------------------------------------------------- barge-in
    def heard(self, audio: TurnAudio) -> int:
        """Best estimate of samples the caller heard: confirmed by marks, or sent minus the lead."""
        return min(audio.sent, max(audio.acked, audio.sent - self.lead))

    def stop(self) -> Stopped | None:
        """Drop everything queued (synchronously: no further frame leaves) and say what was heard."""
        self._generation += 1
        self._queue.clear()
        self._queued_samples = 0
        self._busy_until = 0.0
        self._space = _notify(self._space)
        cur = self.current
        self.current = None
        if cur is None:
            return None
        heard = self.heard(cur)
        return Stopped(cur.turn, heard, heard * 1000 / self.sample_rate, cur.heard_text(heard), cur.planned_text)
