"""An in-process transport: what a call sends is collected in lists. Under :class:`~callwright.testing.LocalCall`
and :class:`~callwright.testing.TextCall` (``callwright chat``, conversation suites, tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import events as ev
from ..audio.pcm import Pcm


@dataclass
class MemoryIO:
    input_rate: int = 16000
    output_rate: int = 16000
    audio: list[Pcm] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    clears: int = 0
    log: list[tuple[str, object]] = field(default_factory=list)  # everything in send order

    def send_audio(self, pcm: Pcm) -> None:
        self.audio.append(pcm)
        self.log.append(("audio", pcm.size))

    def send_event(self, event: ev.Event) -> None:
        self.events.append(event)
        self.log.append(("event", event.type))

    def clear(self) -> None:
        self.clears += 1
        self.log.append(("clear", None))

    def send_mark(self, name: str) -> None:
        self.marks.append(name)
        self.log.append(("mark", name))

    def received_audio(self) -> Pcm:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.int16)

    def of_type(self, kind: type) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]
