"""Compute on the clock: :func:`offload` and a :class:`SteppedClock` that charges compute (fast mode).

On the real clock ``offload`` is ``anyio.to_thread.run_sync``. On a stepped clock made with
``charge_compute``, time waits while offloaded work computes, then charges its cost, so a call on
virtual time has the latencies a real one would. The costs here are modelled (fixed numbers), so
every time is asserted exactly; one test charges the measured time and asserts a lower bound only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import numpy as np
import pytest

from callwright import events as ev
from callwright.agent.base import Agent, Context, Say, Turn
from callwright.clock import Compute, MonotonicClock, SteppedClock, current_clock, observe_compute, offload, use_clock
from callwright.engines.base import Pcm, Transcription
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts, spin
from callwright.engines.inference import InferenceThread
from callwright.testing import LocalCall, silence, tone
from callwright.voice.call import Engines

SRC = Path(__file__).resolve().parents[2] / "src" / "callwright"
THREADS = re.compile(r"to_thread\.run_sync\(|from anyio\.to_thread import|asyncio\.to_thread\(|run_in_executor\(")


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds (a worker thread makes it hold)."""
    with anyio.fail_after(10):  # real time: bounds a test that hangs
        while not condition():
            await anyio.sleep(0.001)


class Gate:
    """Blocking work for a worker thread: it waits until the test opens the gate (a stuck model)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.done = threading.Event()

    def work(self) -> str:
        self.entered.set()
        try:
            assert self.opened.wait(10), "the test never opened the gate"
            return "computed"
        finally:
            self.done.set()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture(autouse=True)
def open_gates(gate: Gate):  # type: ignore[no-untyped-def]
    """Whatever a test does, its blocked threads are let go when it ends."""
    yield
    gate.opened.set()


# ---------------------------------------------------------------- the real clock: anyio as before


async def test_outside_a_call_offload_runs_in_a_worker_thread_on_the_real_clock() -> None:
    assert isinstance(current_clock(), MonotonicClock)
    here = threading.get_ident()
    assert await offload(threading.get_ident) != here
    assert await offload(lambda a, b: a + b, 2, 3) == 5


async def test_on_the_real_clock_abandon_on_cancel_returns_at_once_and_the_work_goes_on(gate: Gate) -> None:
    with anyio.move_on_after(0.05) as scope:  # real time: this is the real clock's path
        await offload(gate.work, abandon_on_cancel=True)
    assert scope.cancelled_caught and gate.entered.is_set() and not gate.done.is_set()
    gate.opened.set()
    await until(gate.done.is_set)


async def test_a_stepped_clock_without_charge_compute_moves_on_while_a_thread_computes(gate: Gate) -> None:
    clock = SteppedClock()  # the default: work in threads is off the clock, as the unit tests expect
    got: list[tuple[str, float]] = []

    async def compute() -> None:
        with use_clock(clock):
            got.append((await offload(gate.work), clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(compute)
        await until(gate.entered.is_set)
        await clock.advance(1.0)  # returns although the thread still computes
        assert (clock.now(), clock.in_flight, gate.done.is_set()) == (1.0, 0, False)
        gate.opened.set()
    assert got == [("computed", 1.0)]  # it cost no time of its own: time moved on without it


# ---------------------------------------------------------------- a charging clock: exact, modelled costs


async def test_time_waits_for_the_compute_then_charges_it_and_sleepers_wake_in_order() -> None:
    clock = SteppedClock(charge_compute=0.3)  # every offload costs 300 ms of virtual time
    log: list[tuple[str, float, bool]] = []
    computed = threading.Event()

    def busy() -> str:
        spin(0.02)  # 20 ms of real compute
        computed.set()
        return "ranked"

    async def offloads() -> None:
        log.append((await offload(busy), clock.now(), computed.is_set()))

    async def sleeper(name: str, at: float) -> None:
        await clock.sleep_until(at)
        log.append((name, clock.now(), computed.is_set()))

    async def call() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(offloads)
            tg.start_soon(sleeper, "before", 0.1)
            tg.start_soon(sleeper, "after", 0.4)

    await clock.run(call)
    # Time did not move while the thread computed: the sleeper due at 100 ms woke once it had
    # finished, at 100 ms; the result came at 0 + 300 ms; the later sleeper after it.
    assert log == [("before", 0.1, True), ("ranked", 0.3, True), ("after", 0.4, True)]
    assert clock.in_flight == 0


async def test_with_advance_the_compute_is_charged_from_when_it_was_asked() -> None:
    clock = SteppedClock(charge_compute=0.25)
    done: list[float] = []

    async def compute() -> None:
        with use_clock(clock):
            await clock.sleep_until(0.5)
            await offload(spin, 0.01)
            done.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(compute)
        await clock.advance(0.6)  # asks at 0.5; time waits for it, then 0.6 comes before its 0.75
        assert (done, clock.now()) == ([], 0.6)
        await clock.advance(0.15)
        assert done == [0.75]


async def test_a_cost_model_sees_what_ran_and_for_how_long() -> None:
    seen: list[Compute] = []

    def model(compute: Compute) -> float:
        seen.append(compute)
        return 0.125 if compute.func is spin else 0.5

    clock = SteppedClock(charge_compute=model)

    async def two() -> float:
        await offload(spin, 0.005)
        await offload(sorted, [3, 1, 2])
        return clock.now()

    assert await clock.run(two) == 0.625
    assert [(c.func, c.args) for c in seen] == [(spin, (0.005,)), (sorted, ([3, 1, 2],))]
    assert seen[0].seconds >= 0.005


async def test_an_observer_times_each_offload_itself_on_any_clock_and_changes_nothing() -> None:
    seen: list[tuple[object, float]] = []
    charged: list[Compute] = []
    engine = InferenceThread()

    def model(compute: Compute) -> float:
        charged.append(compute)
        return 0.25

    clock = SteppedClock(charge_compute=model)

    async def on_the_call() -> float:
        await offload(spin, 0.02)
        assert await engine.run(sorted, [2, 1]) == [1, 2]  # through an engine's queue (its own ``via``)
        return clock.now()

    with observe_compute(lambda func, seconds: seen.append((func, seconds))):
        assert await clock.run(on_the_call) == 0.5  # the cost model still decides what is charged
        assert await offload(spin, 0.01) is None  # off any call: the real clock
    assert [func for func, _ in seen] == [spin, sorted, spin]
    assert seen[0][1] >= 0.02 and seen[2][1] >= 0.01
    assert [c.func for c in charged] == [spin, sorted]  # the cost model sees the work, not the timer around it
    await offload(spin, 0.001)
    assert len(seen) == 3  # outside the block nothing is recorded


async def test_measured_compute_costs_at_least_what_it_took() -> None:
    clock = SteppedClock(charge_compute="measured")

    async def compute() -> float:
        await offload(spin, 0.05)
        return clock.now()

    assert await clock.run(compute) >= 0.05  # the real time it took, not a modelled number


async def test_work_that_fails_fails_after_its_cost_as_it_would_in_real_time() -> None:
    clock = SteppedClock(charge_compute=0.2)

    def broken() -> None:
        raise ValueError("model file corrupt")

    async def compute() -> None:
        await offload(broken)

    with pytest.raises(ValueError, match="model file corrupt"):  # as it is, not in a group
        await clock.run(compute)
    assert (clock.now(), clock.in_flight) == (0.2, 0)


def test_charge_compute_must_say_what_to_charge() -> None:
    with pytest.raises(TypeError, match="'measured', a cost in seconds or a cost model, not True"):
        SteppedClock(charge_compute=True)
    with pytest.raises(ValueError, match=r"charge_compute -1 is not a cost in seconds"):
        SteppedClock(charge_compute=-1)
    assert not SteppedClock().charges_compute and SteppedClock(charge_compute=0).charges_compute


# ---------------------------------------------------------------- cancelled offloads: owned, no deadlock


async def test_an_abandoned_offload_holds_time_until_its_thread_ends_and_no_longer(gate: Gate) -> None:
    clock = SteppedClock(charge_compute=0.5)
    advanced = anyio.Event()

    async def compute(scope: anyio.CancelScope) -> None:
        with use_clock(clock), scope:
            await offload(gate.work, abandon_on_cancel=True)

    async def drive() -> None:
        await clock.advance(1.0)
        advanced.set()

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(compute, scope)
        await until(gate.entered.is_set)
        scope.cancel()  # a barge-in: the caller goes at once, the thread computes on
        await until(lambda: scope.cancelled_caught)
        assert clock.in_flight == 1
        tg.start_soon(drive)
        await anyio.sleep(0.05)  # real time: the thread still computes, so time does not move
        assert (advanced.is_set(), clock.now()) == (False, 0.0)
        gate.opened.set()  # the thread ends: the clock stops waiting for it
        await advanced.wait()
    assert (clock.now(), clock.in_flight) == (1.0, 0)  # its cost is charged to no one


async def test_a_cancelled_offload_that_is_not_abandoned_waits_for_its_thread(gate: Gate) -> None:
    clock = SteppedClock(charge_compute=0.5)
    with use_clock(clock), anyio.CancelScope() as scope:

        async def open_soon() -> None:
            await until(gate.entered.is_set)
            scope.cancel()
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # real time: the cancel waits for the thread meanwhile
            gate.opened.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(open_soon)
            await offload(gate.work)
    assert scope.cancelled_caught and gate.done.is_set()  # returned only once its thread had ended
    assert (clock.in_flight, clock.now()) == (0, 0.0)
    await clock.advance(0.1)  # nothing left to wait for
    assert clock.now() == 0.1


async def test_an_offload_cancelled_before_it_starts_never_runs_and_holds_nothing(gate: Gate) -> None:
    clock = SteppedClock(charge_compute=0.5)
    with use_clock(clock), anyio.CancelScope() as scope:
        scope.cancel()
        await offload(gate.work)
    assert scope.cancelled_caught and not gate.entered.is_set()
    assert clock.in_flight == 0
    await clock.advance(0.1)
    assert clock.now() == 0.1


async def test_an_engine_request_dropped_while_it_waits_releases_the_clock(gate: Gate) -> None:
    """:class:`InferenceThread` on a charging clock: a request cancelled while it waits behind the
    running inference is dropped (its parked thread let go), and the clock waits only for the one
    that runs, charged from when it was asked."""
    clock = SteppedClock(charge_compute=lambda compute: 0.4 if compute.func == gate.work else 0.1)
    inference = InferenceThread()
    ran: list[tuple[str, float]] = []
    ranked: list[str] = []

    async def first() -> None:
        ran.append((await inference.run(gate.work), clock.now()))

    async def second(scope: anyio.CancelScope) -> None:
        with scope:
            ranked.append(await inference.run(str, "never"))

    with use_clock(clock):
        doomed = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await until(gate.entered.is_set)
            tg.start_soon(second, doomed)
            await until(lambda: inference.waiting == 1)
            assert clock.in_flight == 2
            doomed.cancel()
            await until(lambda: inference.waiting == 0 and clock.in_flight == 1)
            gate.opened.set()
            await clock.advance(1.0)
    assert ran == [("computed", 0.4)] and ranked == []
    assert (clock.now(), clock.in_flight, inference.busy) == (1.0, 0, False)


# ---------------------------------------------------------------- a whole call on a charging clock


class Echo(Agent):
    name = "echo"

    async def respond(self, turn: Turn, context: Context):  # type: ignore[no-untyped-def]
        yield Say(f"You said {turn.text}.")


def fast_mode(stt: FakeStt, tts: FakeTts) -> SteppedClock:
    """The engines' compute, modelled: a transcription costs 250 ms, a sentence's synthesis 40 ms."""
    costs = {stt.infer: 0.25, tts.infer: 0.04}
    return SteppedClock(charge_compute=lambda compute: costs[compute.func])


async def test_a_call_on_a_charging_clock_replies_after_the_endpoint_pause_plus_the_compute() -> None:
    stt = FakeStt(["hello there"], compute_s=0.005)  # 5 ms of real compute, modelled as 250 ms
    tts = FakeTts(compute_s=0.002)
    async with LocalCall(Echo(), Engines(stt, tts, EnergyVad()), clock=fast_mode(stt, tts)) as c:
        await c.speak(np.concatenate([tone(0.8), silence(1.0)]))
        await c.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1)
    latency = {e.stage: e.ms for e in c.events(ev.Latency)}
    # From the caller's last voiced sample: the 600 ms endpoint pause, then 250 ms of recognition,
    # then 40 ms to synthesise the first sentence; the agent and the pacing cost nothing.
    assert latency == {"endpoint": 600.0, "stt_final": 850.0, "first_text": 850.0,
                       "first_audio_synth": 890.0, "first_audio_sent": 890.0}  # fmt: skip


async def test_a_caller_gone_quiet_mid_turn_is_a_gap_on_the_calls_clock_not_on_real_time() -> None:
    """A client that stops sending mid-turn (a muted microphone) gets twice the endpoint pause of made-up
    silence. In fast mode that gap is virtual time: real time spent computing is no gap."""
    async with LocalCall(Echo(), Engines(FakeStt(["hello"]), FakeTts(), EnergyVad()), clock=SteppedClock()) as c:
        await c.speak(tone(0.8))  # and then nothing: the last frame arrives at 0.78 s
        final = await c.wait_for(lambda e: isinstance(e, ev.TranscriptFinal))
    assert final.t_ms == 780.0 + 2 * 600
    assert {e.stage: e.ms for e in c.events(ev.Latency)}["endpoint"] == 1200.0


class StuckStt:
    """An STT whose inference runs in its :class:`InferenceThread` and blocks until the gate opens."""

    name = "stuck"

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.inference = InferenceThread()

    async def transcribe(self, audio: Pcm, sample_rate: int, *, language: str = "en") -> Transcription:
        return Transcription(await self.inference.run(self.gate.work), 0.9, language)


async def test_a_call_hung_up_mid_inference_ends_at_once_and_time_waits_only_for_that_thread(gate: Gate) -> None:
    clock = SteppedClock(charge_compute=0.25)
    async with LocalCall(Echo(), Engines(StuckStt(gate), FakeTts(), EnergyVad()), clock=clock) as c:  # type: ignore[arg-type]
        async with anyio.create_task_group() as tg:
            # The turn ends with the last frame, pushed at 1.08 s; its recognition is stuck, and the
            # step after that frame waits for it: time does not move while it computes.
            tg.start_soon(c.speak, np.concatenate([tone(0.5), silence(0.6)]))
            await until(gate.entered.is_set)
            assert (clock.in_flight, round(clock.now(), 9)) == (1, 1.08)
            c.call.hangup()
            await until(lambda: c.ended is not None)  # at once: the engine abandons the inference
            assert c.ended is not None and c.ended.duration_ms == 1080.0
            assert clock.in_flight == 1  # the thread computes on (its InferenceThread owns it) ...
            gate.opened.set()
        # ... and the clock went on once it ended, not before and not never
        assert (clock.in_flight, round(clock.now(), 9)) == (0, 1.1)


# ---------------------------------------------------------------- compute leaves the event loop one way


def test_compute_leaves_the_event_loop_only_through_offload() -> None:
    """Direct ``to_thread`` calls would be off a charging clock: the ones left wait on a person, a
    database or a server's own start-up, never on compute inside a call."""
    direct = {
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if THREADS.search(path.read_text(encoding="utf-8"))
    }
    assert direct == {
        "clock.py",  # offload itself
        "cli.py",  # input(): a person typing in `callwright chat`
        "jobs/queue.py",  # JobQueue.wait: polls a job the workers run in real time, outside any call
        "server.py",  # starting and stopping the job workers with the server
    }
