"""Timeouts on an injected clock (:func:`within`) and the virtual clocks they run on in tests."""

from __future__ import annotations

import math

import anyio
import pytest

from callwright.clock import MonotonicClock, SteppedClock, TimedOut, VirtualClock, within


async def takes(clock: SteppedClock, seconds: float, answer: str) -> str:
    await clock.sleep_until(clock.now() + seconds)
    return answer


async def test_within_cuts_off_slower_work_at_exactly_the_deadline() -> None:
    clock = SteppedClock()
    outcome = await clock.run(lambda: within(clock, 0.5, lambda: takes(clock, 0.75, "late")))
    assert isinstance(outcome, TimedOut) and clock.now() == 0.5


async def test_within_returns_what_quicker_work_returns_when_it_does() -> None:
    clock = SteppedClock()
    assert await clock.run(lambda: within(clock, 0.5, lambda: takes(clock, 0.25, "in time"))) == "in time"
    assert clock.now() == 0.25

    async def now_after_a_real_wait() -> float:
        await anyio.sleep(0.01)  # real time: nothing on the clock is due meanwhile...
        return clock.now()

    assert await clock.run(now_after_a_real_wait) == 0.25  # ...not even the alarm within no longer needed


async def test_what_the_work_raises_comes_out_as_it_is() -> None:
    async def broken() -> None:
        await anyio.lowlevel.checkpoint()
        raise ConnectionError("backend unreachable")

    with pytest.raises(ConnectionError, match="backend unreachable"):  # not an exception group
        await within(SteppedClock(), 1.0, broken)


async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    reached = False
    with anyio.CancelScope() as outside:
        outside.cancel()
        await within(SteppedClock(), 1.0, anyio.sleep_forever)
        reached = True
    assert outside.cancelled_caught and not reached


async def test_on_a_virtual_clock_work_that_never_answers_times_out_at_once_and_exactly() -> None:
    clock = VirtualClock(start=10.0)
    assert isinstance(await within(clock, 2.5, anyio.sleep_forever), TimedOut)
    assert clock.now() == 12.5
    assert await within(clock, 2.5, lambda: _at_once("ok")) == "ok"  # done before the alarm starts
    assert clock.now() == 12.5


async def _at_once(answer: str) -> str:
    return answer


async def test_on_the_real_clock_it_is_a_real_timeout() -> None:
    clock = MonotonicClock()
    assert isinstance(await within(clock, 0.05, anyio.sleep_forever), TimedOut)
    assert await within(clock, math.inf, lambda: _at_once("no limit")) == "no limit"
