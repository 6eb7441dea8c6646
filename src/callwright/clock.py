"""Time, injected.

Nothing in Callwright reads the wall clock or sleeps directly: it asks a :class:`Clock`.
:class:`MonotonicClock` is the real one. :class:`VirtualClock` jumps straight to each deadline, so a
test or a simulation runs a call faster than real time and still sees exact, repeatable times.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.lowlevel


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (or at once if it has passed)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch, for timestamps a person reads."""
        ...


class MonotonicClock:
    def now(self) -> float:
        return time.perf_counter()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.perf_counter()
        await anyio.sleep(delay if delay > 0 else 0)

    def wall(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that advances only when someone sleeps on it.

    ``sleep_until`` moves time forward to the deadline and yields once to the event loop, so
    concurrent tasks interleave in deadline order closely enough for one call in a test.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = deadline
        await anyio.lowlevel.checkpoint()

    def wall(self) -> float:
        return self._now + self._wall_offset
