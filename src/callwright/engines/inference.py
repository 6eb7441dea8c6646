"""An engine's inference, run in a worker thread, one at a time, with nothing left to stack up.

The local engines (Moonshine, Whisper, Piper) compute in a worker thread so the event loop stays
free. Python cannot stop a thread, so a request cancelled while its inference runs (a barge-in, a
hang-up, a timeout) returns at once and the inference finishes in the background. On two cores a
few of those would take the cores the next turn needs. :class:`InferenceThread` keeps it to one:

- At most one inference of an engine runs at a time. A request that comes while one runs, even one
  whose caller has gone, waits for it to finish; waiting requests run in the order they came.
- A request cancelled while it waits is dropped: its inference never starts.
- :attr:`~InferenceThread.busy` is True while an inference runs, an abandoned one included, and
  :attr:`~InferenceThread.waiting` counts the requests waiting their turn. The retry policy
  (:mod:`callwright.engines.resilient`) reads ``busy`` after a timeout.

A waiting request parks in a worker thread of its own, which computes nothing and is let go as soon
as the request runs or is cancelled. ``anyio.CapacityLimiter(1)`` given to ``to_thread.run_sync`` as
its ``limiter`` would not do: on asyncio, anyio releases the limiter as soon as the caller is
cancelled, while the abandoned thread still runs, so the next request would start a second one. The
state is guarded by a ``threading.Condition``, not an anyio primitive, because one engine serves
several event loops (the server's, the warm-up thread's, each test's).

The thread is started by :func:`~callwright.clock.offload`, so on a clock that charges compute (fast
mode) an inference is on the call's clock: time waits for it, the wait behind the engine's previous
inference included, and an abandoned one is waited for until it ends.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TypeVar, TypeVarTuple

from ..clock import offload

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class _Request:
    __slots__ = ("dropped",)

    def __init__(self) -> None:
        self.dropped = False  # its caller has gone: if it has not started, it never will


class _Dropped(Exception):
    """Raised in the parked thread of a request whose caller has gone (nobody reads it)."""


class InferenceThread:
    """Runs an engine's blocking calls in a worker thread, one at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._line: deque[_Request] = deque()
        self._running = False

    @property
    def busy(self) -> bool:
        """True while an inference runs, including one whose caller was cancelled."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests waiting for the inference that runs now (or for those before them) to finish."""
        return len(self._line)

    async def run(self, func: Callable[[*Ts], T], *args: *Ts) -> T:
        """``func(*args)`` in a worker thread once no other inference of this engine runs.

        Cancelled while waiting, it returns at once and ``func`` never runs; cancelled while
        ``func`` runs, it returns at once and ``func`` finishes in the background (``busy`` stays
        True until then).
        """
        request = _Request()
        try:
            return await offload(func, *args, abandon_on_cancel=True, via=partial(self._serve, request))
        except BaseException:
            with self._turns:
                request.dropped = True
                self._turns.notify_all()
            raise

    def _serve(self, request: _Request, func: Callable[[*Ts], T], args: tuple[*Ts]) -> T:
        with self._turns:
            self._line.append(request)
            self._turns.wait_for(lambda: request.dropped or (not self._running and self._line[0] is request))
            self._line.remove(request)
            if request.dropped:
                self._turns.notify_all()  # the request behind it may be first in line now
                raise _Dropped
            self._running = True
        try:
            return func(*args)
        finally:
            with self._turns:
                self._running = False
                self._turns.notify_all()
