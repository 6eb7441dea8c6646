"""Runs simulator cases against an agent and judges each one.

Text mode types each caller turn into a real call (:class:`~callwright.testing.TextCall`): seconds
per suite, for dialogue logic in CI. The judging is the conversation suites' (every turn's and the
call's expectations, ``docs/testing.md``), plus what only a simulator checks: the backend's state
after the call, read through the agent's own tools (``expect.state``), and the number of turns it
took (``expect.turns_max``).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from .. import events as ev
from ..agent.tools import ToolContext
from ..clock import VirtualClock
from ..testing.conversations import SAFETY_CHECKS, Failure, Transcript, end_problems, turn_problems
from .callers import ScriptedCaller
from .scenario import Case, StateCheck
from .timeline import Moment, moments

Mode = Literal["text", "voice", "realtime"]
MAX_TURNS = 40  # a caller that has not finished by then is stuck in a loop with the agent


@dataclass
class CaseResult:
    """One case as it went: the transcript with its failures, and what this mode could not do."""

    case: Case
    mode: Mode
    transcript: Transcript
    turns: int = 0
    skipped: list[str] = field(default_factory=list)  # steps this mode leaves out (acoustic ones in text mode)
    unjudged: list[str] = field(default_factory=list)  # expectations this transport cannot show (real-time mode)
    timeline: list[Moment] = field(default_factory=list)  # the call's events, kept small (:mod:`.timeline`)

    @property
    def passed(self) -> bool:
        return self.transcript.passed

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.case.name, "scenario": self.case.scenario.name, "seed": self.case.seed,
            "repeat": self.case.repeat, "dimensions": self.case.dimensions, "mode": self.mode, "safety": self.case.scenario.safety,
            "passed": self.passed, "turns": self.turns, "skipped": self.skipped, "unjudged": self.unjudged,
            "exchanges": [{"caller": c, "agent": a} for c, a in self.transcript.exchanges],
            "failures": [{"turn": f.turn, "check": f.check, "detail": f.detail} for f in self.transcript.failures],
            "timeline": [m.to_json() for m in self.timeline],
        }


async def run_text(case: Case, app: Any, *, timeout: float = 60.0, safety_only: bool = False) -> CaseResult:
    """``case`` in text mode, in a fresh call with services of its own (store, outbox, tools' data)."""
    from ..agent.app import Services
    from ..jobs.notify import OutboxNotifier
    from ..store import open_store
    from ..testing.calls import TextCall
    from ..transport.links import LinkSigner

    scenario = case.scenario
    result = CaseResult(case, "text", Transcript(case.name, scenario.safety))
    failures = result.transcript.failures
    with tempfile.TemporaryDirectory(prefix="callwright-sim-") as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'callwright.db'}")
        try:
            own = copy.copy(app)  # the loaded definition, matcher and documents are shared; services are not
            own.services = Services(
                store=store, notifier=OutboxNotifier(store), links=LinkSigner("simulator-link-secret-of-32-chars"),
                public_url="http://127.0.0.1:8000", data_dir=Path(tmp),
            )
            caller = ScriptedCaller(scenario)
            replies: list[str] = []
            async with TextCall(own.agent(), caller=scenario.phone) as call:
                reply = await call.greeting(timeout)
                if reply:
                    result.transcript.exchanges.append(("", reply))
                events: Sequence[ev.Event] = call.events()
                while (step := caller.next(reply, events)) is not None and result.turns < MAX_TURNS:
                    if _ended(call):
                        if step.say is not None or step.web is not None or step.dtmf is not None:
                            failures.append(Failure(case.name, result.turns + 1, "call", "the call had already ended"))
                        break
                    if step.backchannel is not None:
                        result.skipped.append(f"backchannel {step.backchannel.say!r} (voice only)")
                    if step.interrupt is not None:
                        result.skipped.append(f"interruption timing of {step.say!r} (voice only; said as a turn)")
                    if step.silence_s:
                        result.skipped.append(f"{step.silence_s:g} s of silence (voice only)")
                    before = len(call.events())
                    if step.web is not None:
                        reply = await call.web_value(step.web["form"], step.web["field"], step.web["value"], timeout=timeout)
                        said = f"[web form {step.web['form']}.{step.web['field']} = {step.web['value']}]"
                    elif step.dtmf is not None:
                        reply = await call.keys(step.dtmf, timeout=timeout)
                        said = f"[keys {step.dtmf}]"
                    elif step.say is not None:
                        reply = await call.say(step.say, confidence=step.confidence, timeout=timeout)
                        said = step.say if step.confidence >= 1 else f"{step.say}  (confidence {step.confidence})"
                    else:  # a silence or a hang-up alone
                        if step.hangup:
                            break
                        continue
                    result.turns += 1
                    await call.settle()
                    result.transcript.exchanges.append((said, reply))
                    replies.append(reply)
                    events = call.events()[before:]
                    for check, detail in turn_problems(step.expect, reply, events, _ended(call)):
                        if not safety_only or check in SAFETY_CHECKS:
                            failures.append(Failure(case.name, result.turns, check, detail))
                    if step.hangup:
                        break
                every = call.events()
            result.timeline = moments(every)
            for check, detail in end_problems(scenario.expect, replies, every):
                if not safety_only or check in SAFETY_CHECKS:
                    failures.append(Failure(case.name, None, check, detail))
            if not safety_only:
                if scenario.expect.turns_max is not None and result.turns > scenario.expect.turns_max:
                    failures.append(Failure(case.name, None, "turns_max", f"{result.turns} turns, at most {scenario.expect.turns_max}"))
                for state in scenario.expect.state:
                    problem = await _state_problem(own, state, scenario.phone)
                    if problem:
                        failures.append(Failure(case.name, None, "state", problem))
        finally:
            await store.close()
    return result


async def run_text_cases(cases: Sequence[Case], app: Any, *, concurrency: int = 8, timeout: float = 60.0,
                         safety_only: bool = False, on_done: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Every case in text mode, up to ``concurrency`` at once; results in the order of ``cases``.
    ``on_done`` is told of each result as it comes (a progress display)."""
    results: list[CaseResult | None] = [None] * len(cases)
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(index: int, case: Case) -> None:
        async with limiter:
            results[index] = done = await run_text(case, app, timeout=timeout, safety_only=safety_only)
            if on_done is not None:
                on_done(done)

    async with anyio.create_task_group() as tg:
        for index, case in enumerate(cases):
            tg.start_soon(one, index, case)
    return [r for r in results if r is not None]


async def _state_problem(app: Any, check: StateCheck, phone: str | None) -> str:
    """What is wrong with the backend's state, read through the agent's tool ``check.tool``; "" if nothing."""
    tool = app.definition.tools.get(check.tool)
    if tool is None:
        return f"the agent has no tool {check.tool!r} (it has {sorted(app.definition.tools)})"
    context = ToolContext(call_id="simulator-state-check", caller=phone, turn=0, idempotency_key=None,
                          data_dir=app.services.data_dir / "agents" / app.spec.name, clock=VirtualClock())
    try:
        got = await tool(context, **tool.validate(check.arguments))
    except Exception as exc:  # the backend's own error is the finding
        return f"{check.tool}({check.arguments}) failed: {type(exc).__name__}: {exc}"
    if not isinstance(got, dict):
        return f"{check.tool}({check.arguments}) gave {got!r}, not a mapping of fields"
    wrong = {k: got.get(k) for k, want in check.fields.items() if str(got.get(k)).lower() != str(want).lower()}
    wrong |= {k: got.get(k) for k, want in check.contains.items() if str(want).lower() not in str(got.get(k, "")).lower()}
    expected = {**check.fields, **{k: f"...{v}..." for k, v in check.contains.items()}}
    return f"{check.tool}({check.arguments}): {wrong} where {expected} was expected" if wrong else ""


def _ended(call: Any) -> bool:
    return any(isinstance(e, ev.CallEnded) for e in call.events())
