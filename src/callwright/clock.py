"""Time, injected.

Nothing in Callwright reads the wall clock or sleeps directly: it asks a :class:`Clock`.
:class:`MonotonicClock` is the real one. :class:`VirtualClock` and :class:`SteppedClock` are virtual,
so a test or a simulation runs faster than real time and still sees exact, repeatable times.
A timeout is taken on a clock with :func:`within`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, final

import anyio
import anyio.lowlevel

T = TypeVar("T")


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

    ``sleep_until`` moves time forward to the deadline and yields once to the event loop. That is
    exact while one task at a time sleeps on it: a retry's back-off, or a timeout (:func:`within`)
    around work that finishes without waiting or never finishes. Two sleepers race: the first to
    sleep moves time to its deadline, even if the other's is earlier; and a timeout's alarm moves
    time to the deadline as soon as the work waits on anything, so work that would have answered in
    time is cut off. For those, and for a whole call, use :class:`SteppedClock`.
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
    """Virtual time for a whole call: time moves only when :meth:`advance` (or :meth:`run`) moves it.

    A task that sleeps waits until time reaches its deadline. ``advance`` wakes the sleepers in
    deadline order, each at its own deadline, and lets every task run until all are blocked before
    it moves on, so a test that drives a call step by step sees exact, repeatable times (a stage that
    took 250 ms took exactly 250 ms). :class:`VirtualClock` is enough for one sleeper; this is the one
    for a call, where several tasks sleep at once, and for a timeout around work that sleeps too.
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
        entry = (deadline, next(self._order), woken)
        heapq.heappush(self._sleepers, entry)
        try:
            await woken.wait()
        finally:
            if not woken.is_set():  # cancelled (a timeout's alarm once the work is done): time need not stop there
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

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

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await ``work()`` while time moves by itself: whenever every task waits, to the next
        sleeper's deadline. For a test of one component (a tool, an engine behind its timeout) that
        nothing drives step by step; when ``run`` returns, the clock reads the time ``work`` ended.

        A task waiting on a thread or a socket counts as waiting too, so time may jump while it
        does: give ``run`` work that waits only on this clock and on other tasks.
        """
        (result,) = await _beside(self._jump, work)  # _jump never cuts the work short
        return result

    async def _jump(self, scope: anyio.CancelScope) -> None:
        while True:
            await _all_blocked()
            if not self._sleepers:
                await anyio.sleep(0.001)  # real time: everything waits on something other than this clock
                continue
            deadline, _, woken = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            woken.set()


@final
class TimedOut:
    """What :func:`within` returns when the time ran out first (test it with ``isinstance``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TimedOut()"


_TIMED_OUT = TimedOut()


async def within(clock: Clock, seconds: float, work: Callable[[], Awaitable[T]]) -> T | TimedOut:
    """Await ``work()`` for at most ``seconds`` on ``clock``: its result, or :class:`TimedOut` once
    ``clock.now() + seconds`` has come (``work`` is then cancelled). ``math.inf``: no limit.

    ``work`` runs in the calling task, so an async generator may be advanced this way, and what it
    raises comes out as it is (not in an exception group); if it finishes as time runs out, its
    result wins. A cancellation from outside is raised as usual. On a :class:`MonotonicClock` it
    behaves as ``anyio.move_on_after``; on a virtual clock the deadline is a sleeper like any other.
    """
    if math.isinf(seconds):
        return await work()
    deadline = clock.now() + seconds

    async def alarm(scope: anyio.CancelScope) -> None:
        await clock.sleep_until(deadline)
        scope.cancel()

    done = await _beside(alarm, work)
    return done[0] if done else _TIMED_OUT


async def _beside(companion: Callable[[anyio.CancelScope], Coroutine[Any, Any, None]], work: Callable[[], Awaitable[T]]) -> list[T]:
    """Await ``work()`` in this task while ``companion`` runs beside it, until ``work`` ends or the
    companion cancels the scope it is given: ``[result]``, or ``[]`` if cut short. What ``work``
    raises comes out as it is, not wrapped in an exception group."""
    done: list[T] = []
    failed: list[Exception] = []
    async with anyio.create_task_group() as tg:

        async def beside() -> None:
            if not tg.cancel_scope.cancel_called:  # work that ended before it started leaves it out
                await companion(tg.cancel_scope)

        tg.start_soon(beside)
        try:
            done.append(await work())
        except Exception as exc:  # raised below: out of the group it would come wrapped
            failed.append(exc)
        tg.cancel_scope.cancel()  # the companion
    if failed:
        raise failed[0]
    return done


async def _all_blocked() -> None:
    """Return once every other task waits on something. ``anyio.wait_all_tasks_blocked`` naps 0.1 s
    each time a task is still runnable, which makes a stepped call take seconds; on asyncio this
    checks the same thing (each task's pending future) between bare checkpoints instead, and that no
    callback is due to run (anyio delivers a cancellation in one: a call that is hanging up is busy)."""
    try:
        import asyncio

        this = asyncio.current_task()
    except RuntimeError:  # not asyncio (trio): its own check is fast
        await anyio.wait_all_tasks_blocked()
        return
    loop = asyncio.get_running_loop()
    while True:
        await anyio.lowlevel.checkpoint()
        waiting = (getattr(t, "_fut_waiter", None) for t in asyncio.all_tasks() if t is not this)
        if all(w is not None and not w.done() for w in waiting) and not getattr(loop, "_ready", ()):
            return
