"""Time, injected.

Nothing in Callwright reads the wall clock or sleeps directly: it asks a :class:`Clock`.
:class:`MonotonicClock` is the real one. :class:`VirtualClock` and :class:`SteppedClock` are virtual,
so a test or a simulation runs faster than real time and still sees exact, repeatable times.
A timeout is taken on a clock with :func:`within`.

Compute goes through :func:`offload`: blocking work (an engine's inference, the intent ranker)
runs in a worker thread, and on a :class:`SteppedClock` made with ``charge_compute`` it costs what
it costs in real time. The clock waits for it instead of moving on, then charges its duration
(measured, or modelled) to virtual time, so a call's latencies include its compute while its idle
waits (pacing, silence, timers) cost nothing.

``offload`` finds the call's clock in a context variable that :class:`~callwright.voice.call.Call`
sets for its tasks (:func:`use_clock`), not in an argument. Engines are shared by every call (one
Moonshine serves them all) and their protocols take audio, not a clock; the agent's ranker and
knowledge search are a few calls below anything that holds one. Passing the clock down would widen
every engine protocol and every helper on the way, and a call site that forgot it would fall back
to the real clock without a sound. The context variable reaches every task the call starts, and
nothing else: work outside a call (a server warming its engines) is on the real clock.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, TypeVarTuple, final

import anyio
import anyio.lowlevel
import anyio.to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


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

    Work in threads is off this clock by default: a task waiting on a thread counts as blocked, so
    time moves on while it computes, and its compute costs no virtual time. With ``charge_compute``
    it is on the clock (fast mode): while an :func:`offload` runs, time waits for it as it waits for
    tasks, and when it ends the task that asked goes on at its start plus its cost:

    - ``"measured"``: the real time it took (a fast-mode call's latencies are a real call's);
    - a number: that many seconds for every offload (a deterministic run);
    - a function of a :class:`Compute` (what ran, and how long it took): a cost model, e.g. per
      engine, or per second of audio.

    Idle waits (pacing, silence, endpointing, timeouts) still cost nothing. Offloaded work must not
    wait on this clock (from its thread, on a task that sleeps on it): time waits for the work.
    """

    def __init__(
        self, start: float = 0.0, wall_start: float = 1_700_000_000.0, *, charge_compute: ChargeCompute = None
    ) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()
        self._cost = _cost_model(charge_compute)
        self._flights: set[_Flight] = set()  # offloads whose result the clock waits for
        self._flights_lock = threading.Lock()  # an abandoned offload's thread lands its own flight
        self._landed: anyio.Event | None = None  # set when a flight lands, for a driver waiting on one

    @property
    def charges_compute(self) -> bool:
        """Whether :func:`offload` work is on this clock (``charge_compute`` was given)."""
        return self._cost is not None

    @property
    def in_flight(self) -> int:
        """Offloads still computing, that time waits for (always 0 without ``charge_compute``)."""
        with self._flights_lock:
            return len(self._flights)

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
        await self._settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, woken = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            woken.set()
            await self._settle()
        self._now = target

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await ``work()`` while time moves by itself: whenever every task waits, to the next
        sleeper's deadline. For a test of one component (a tool, an engine behind its timeout) that
        nothing drives step by step; when ``run`` returns, the clock reads the time ``work`` ended.

        A task waiting on a socket counts as waiting too, so time may jump while it does; so does
        one waiting on a thread, unless the thread is an :func:`offload` and this clock charges
        compute. ``work`` runs with this clock as the current one (:func:`use_clock`).
        """
        with use_clock(self):
            (result,) = await _beside(self._jump, work)  # _jump never cuts the work short
        return result

    async def _jump(self, scope: anyio.CancelScope) -> None:
        while True:
            await self._settle()
            if not self._sleepers:
                await anyio.sleep(0.001)  # real time: everything waits on something other than this clock
                continue
            deadline, _, woken = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            woken.set()

    async def _settle(self) -> None:
        """Return once every other task waits on something and no offloaded work is computing."""
        while True:
            await _all_blocked()
            with self._flights_lock:
                if not self._flights:
                    return
                abandoned = any(flight.abandoned for flight in self._flights)
            self._landed = landed = anyio.Event()
            # Real time: computing is what the clock waits for. A flight its task lands wakes this at
            # once; an abandoned one lands from its thread, which can wake no task, so it is polled.
            with anyio.move_on_after(0.002 if abandoned else math.inf):
                await landed.wait()

    async def _offload(
        self, func: Callable[..., T], args: tuple[Any, ...], via: Via[T] | None, abandon_on_cancel: bool
    ) -> T:
        """:func:`offload` on this clock when it charges compute (see the class docstring)."""
        assert self._cost is not None
        started = self._now
        flight = _Flight()
        with self._flights_lock:
            self._flights.add(flight)

        def timed() -> T:
            with self._flights_lock:
                if flight.gone:  # its caller went before the thread took it: it never runs (as in anyio)
                    raise _Gone
                flight.started = True
            began = time.perf_counter()  # wall time: the compute's own duration is what fast mode charges
            try:
                return via(func, args) if via is not None else func(*args)
            finally:
                flight.seconds = time.perf_counter() - began
                with self._flights_lock:
                    flight.finished = True
                    if flight.abandoned:  # nobody waits for its result: it lands itself
                        self._flights.discard(flight)

        failed: Exception | None = None
        try:
            result = await anyio.to_thread.run_sync(timed, abandon_on_cancel=abandon_on_cancel)
        except Exception as exc:  # the work's own failure: it comes out after its cost, as in real time
            failed = exc
        except BaseException:  # cancelled: the thread may still run (abandoned); then it lands itself
            with self._flights_lock:
                if flight.finished or not flight.started:
                    flight.gone = True
                    self._flights.discard(flight)
                else:
                    flight.abandoned = True
            self._wake_driver()
            raise
        with self._flights_lock:
            self._flights.discard(flight)
        self._wake_driver()
        await self.sleep_until(started + self._cost(Compute(func, args, flight.seconds)))
        if failed is not None:
            raise failed
        return result

    def _wake_driver(self) -> None:
        if self._landed is not None:
            self._landed.set()


ChargeCompute = Literal["measured"] | float | Callable[["Compute"], float] | None


@dataclass(frozen=True, slots=True)
class Compute:
    """One :func:`offload` that has ended, as a cost model sees it: ``func(*args)`` ran for
    ``seconds`` of real time (in its worker thread, including any wait for the engine's previous
    inference)."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    seconds: float


def _cost_model(charge: ChargeCompute) -> Callable[[Compute], float] | None:
    if charge is None:
        return None
    if charge == "measured":
        return lambda compute: compute.seconds
    if isinstance(charge, bool):
        raise TypeError("SteppedClock: charge_compute takes 'measured', a cost in seconds or a cost model, not True")
    if isinstance(charge, int | float):
        if charge < 0 or math.isnan(charge):
            raise ValueError(f"SteppedClock: charge_compute {charge!r} is not a cost in seconds (0 or more)")
        fixed = float(charge)
        return lambda compute: fixed
    if callable(charge):
        return charge
    raise TypeError(f"SteppedClock: charge_compute {charge!r}: say 'measured', a cost in seconds or a cost model")


class _Gone(Exception):
    """Raised in the thread of an offload whose caller went before it started (nobody reads it)."""


class _Flight:
    """An offload a charging clock waits for. Its state is read and written under the clock's lock."""

    __slots__ = ("abandoned", "finished", "gone", "seconds", "started")

    def __init__(self) -> None:
        self.started = False  # its thread took it
        self.finished = False  # its thread is done with it
        self.abandoned = False  # its caller was cancelled while it ran (it goes on)
        self.gone = False  # its caller was cancelled before it started (it never will)
        self.seconds = 0.0


Via = Callable[[Callable[..., T], tuple[Any, ...]], T]

_current: ContextVar[Clock | None] = ContextVar("callwright_clock", default=None)
_REAL = MonotonicClock()


def current_clock() -> Clock:
    """The clock of the call this task belongs to (:func:`use_clock`); the real clock outside one."""
    return _current.get() or _REAL


@contextmanager
def use_clock(clock: Clock) -> Iterator[None]:
    """Make ``clock`` the current one for this task and the tasks it starts, inside the block.

    :class:`~callwright.voice.call.Call` does this for its tasks, and :meth:`SteppedClock.run` for
    its work; use it to run a component on a clock outside a call.
    """
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


Observer = Callable[[Callable[..., Any], float], None]
_observer: ContextVar[Observer | None] = ContextVar("callwright_compute_observer", default=None)


@contextmanager
def observe_compute(record: Observer) -> Iterator[None]:
    """Call ``record(func, seconds)`` for every :func:`offload` made inside the block (and in the tasks
    started there), on any clock: ``func`` ran for ``seconds`` of real time in its worker thread, not
    counting a wait for the engine's previous inference. For a benchmark that says where a call's time
    goes (``benchmarks/simulate.py``); ``record`` runs in the worker thread. Nothing else changes."""
    token = _observer.set(record)
    try:
        yield
    finally:
        _observer.reset(token)


def _observed(via: Via[T] | None, record: Observer) -> Via[T]:
    """``via`` (or a plain call) with ``func`` itself timed for ``record``."""

    def run(func: Callable[..., T], args: tuple[Any, ...]) -> T:
        def timed(*given: Any) -> T:
            began = time.perf_counter()  # wall time: what the compute cost is the measurement
            try:
                return func(*given)
            finally:
                record(func, time.perf_counter() - began)

        return via(timed, args) if via is not None else timed(*args)

    return run


async def offload(
    func: Callable[[*Ts], T], *args: *Ts, abandon_on_cancel: bool = False, via: Via[T] | None = None
) -> T:
    """``func(*args)`` in a worker thread, on the current clock: the one way compute leaves the event loop.

    On the real clock (and on a virtual one that does not charge compute) this is
    ``anyio.to_thread.run_sync(func, *args, abandon_on_cancel=...)``. On a :class:`SteppedClock` with
    ``charge_compute`` time waits for the thread, and the caller goes on at the time it asked plus the
    work's cost: compute costs what it costs in real time (or what the cost model says).

    ``abandon_on_cancel`` as in anyio: cancelled while ``func`` runs, return at once and let it
    finish in the background. A charging clock still waits for it (the thread computes, as it would
    in a real call), and stops waiting when it ends; its cost is charged to no one. ``via(func,
    args)``, when given, is what runs in the thread instead of ``func(*args)``, and must call it: a
    queue in front of the work (:class:`~callwright.engines.inference.InferenceThread`). A cost model
    still sees ``func``. Inside :func:`observe_compute`, ``func``'s own real time is reported too.
    """
    record = _observer.get()
    if record is not None:
        via = _observed(via, record)
    clock = _current.get()
    if isinstance(clock, SteppedClock) and clock.charges_compute:
        return await clock._offload(func, args, via, abandon_on_cancel)
    if via is not None:
        return await anyio.to_thread.run_sync(via, func, args, abandon_on_cancel=abandon_on_cancel)
    return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=abandon_on_cancel)


async def aside(func: Callable[[*Ts], T], *args: *Ts) -> T:
    """``func(*args)`` in a worker thread, as work that is no part of the call: on a charging
    :class:`SteppedClock` time waits for it (:func:`held`) and nothing is charged, so a simulated
    caller's own voice and line cost the call no time; elsewhere a plain worker thread."""
    async with held():
        return await anyio.to_thread.run_sync(func, *args)


@asynccontextmanager
async def held() -> AsyncIterator[None]:
    """Around an await on work outside this event loop's tasks that is not compute of ours (a
    database driver's own thread, such as aiosqlite's): on a charging :class:`SteppedClock` time
    waits for it, as it waits for :func:`offload`, so a simulated caller's patience or a timeout does
    not run out while the store answers. Nothing is charged: on loopback it is a few milliseconds of
    waiting, not computing. Elsewhere it does nothing."""
    clock = _current.get()
    if not (isinstance(clock, SteppedClock) and clock.charges_compute):
        yield
        return
    flight = _Flight()
    flight.started = True
    with clock._flights_lock:
        clock._flights.add(flight)
    try:
        yield
    finally:
        with clock._flights_lock:
            clock._flights.discard(flight)
        clock._wake_driver()


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
    if type(clock) is MonotonicClock:  # the same, without a task for the alarm (a call takes one per frame mid-turn)
        with anyio.move_on_after(seconds):
            return await work()
        return _TIMED_OUT
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
