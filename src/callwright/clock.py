"""Time, injected.

Nothing in Callwright reads the wall clock or sleeps directly: it asks a :class:`Clock`.
:class:`MonotonicClock` is the real one. :class:`VirtualClock` jumps straight to each deadline, so a
test or a simulation runs a call faster than real time and still sees exact, repeatable times.
"""

from __future__ import annotations

import heapq
import itertools
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


class SteppedClock:
    """Virtual time for a whole call: time moves only when :meth:`advance` moves it.

    A task that sleeps waits until time reaches its deadline. ``advance`` wakes the sleepers in
    deadline order, each at its own deadline, and lets every task run until all are blocked before
    it moves on, so a test that drives a call step by step sees exact, repeatable times (a stage that
    took 250 ms took exactly 250 ms). :class:`VirtualClock` is enough for one sleeper; this is the one
    for a call, where several tasks sleep at once.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        woken = anyio.Event()
        heapq.heappush(self._sleepers, (deadline, next(self._order), woken))
        await woken.wait()  # a sleeper cancelled meanwhile leaves an entry whose wake-up nobody sees

    async def advance(self, seconds: float) -> None:
        """Move time ``seconds`` on, waking each sleeper at its deadline; return when all tasks are blocked."""
        target = self._now + seconds
        await _all_blocked()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, woken = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            woken.set()
            await _all_blocked()
        self._now = target


async def _all_blocked() -> None:
    """Return once every other task waits on something. ``anyio.wait_all_tasks_blocked`` naps 0.1 s
    each time a task is still runnable, which makes a stepped call take seconds; on asyncio this
    checks the same thing (each task's pending future) between bare checkpoints instead."""
    try:
        import asyncio

        this = asyncio.current_task()
    except RuntimeError:  # not asyncio (trio): its own check is fast
        await anyio.wait_all_tasks_blocked()
        return
    while True:
        await anyio.lowlevel.checkpoint()
        waiting = (getattr(t, "_fut_waiter", None) for t in asyncio.all_tasks() if t is not this)
        if all(w is not None and not w.done() for w in waiting):
            return
