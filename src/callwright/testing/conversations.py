"""Conversation suites: realistic caller turns and what must happen, run against an agent.

A suite is a YAML file (documented in ``docs/testing.md``)::

    conversations:
      - name: several facts in one turn
        caller: "+14155550123"
        turns:
          - say: two oat milks delivered to 12 Baker Street tomorrow at 3
            expect: {says_any: [place the order], not_says: [delivery address]}
          - say: yes
            expect: {tool: {name: place_order, arguments: {quantity: 2, product: oat milk}}}
        expect: {escalates: false}

Each caller turn is typed into a real call (:class:`~callwright.testing.TextCall`), with the
recognition confidence a speech recogniser would have given (``confidence``), and checked against
the reply the caller heard and the events of that turn (tools, form fields, transfers, emotion,
``misheard``). :func:`run_suite` reports every failed check by conversation, turn and expectation,
and a pass rate; safety conversations (``safety: true``) are counted apart, because every one of
them must pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .. import events as ev
from ..agent.shaping import split_sentences
from ..agent.text import normalise
from ..yamlfile import load_model

Label = Literal["angry", "upset", "anxious", "happy", "neutral"]
StyleName = Literal["calm", "warm", "upbeat", "neutral"]


T = TypeVar("T")


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, (str, dict)) else value


OneOrMany = Annotated[list[T], BeforeValidator(_listed)]  # a single item may be written without brackets


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolExpect(_Strict):
    """A tool call: its name and some of its arguments (compared as lower-case text)."""

    name: str
    arguments: dict[str, str | int | float | bool] = Field(default_factory=dict)


class TurnExpect(_Strict):
    """What must hold for one caller turn: the reply the caller heard and the events of the turn."""

    says: OneOrMany[str] = Field(default_factory=list)  # every phrase appears in the reply (case-insensitive)
    says_any: OneOrMany[str] = Field(default_factory=list)  # at least one appears
    not_says: OneOrMany[str] = Field(default_factory=list)  # none appears
    starts_with_any: OneOrMany[str] = Field(default_factory=list)  # the reply's first sentence holds one of these
    escalates: bool | None = None  # a transfer or a booked call with a person happened (or must not)
    tool: str | ToolExpect | None = None  # this tool was called on this turn
    no_tool: bool = False  # no tool was called on this turn
    misheard: bool | None = None  # the agent said it did not catch the turn (a `misheard` event)
    emotion: Label | None = None
    emotion_not: OneOrMany[Label] = Field(default_factory=list)
    style_not: OneOrMany[StyleName] = Field(default_factory=list)
    ends: bool | None = None  # the call ended after this turn (hang-up or transfer)
    silent: bool = False  # the agent said nothing


class Turn(_Strict):
    say: str | None = None  # what the caller said (as the recogniser wrote it)
    confidence: float = Field(default=1.0, ge=0, le=1)  # the recogniser's confidence
    web: dict[str, str] | None = None  # a web-form value instead: {form, field, value}
    expect: TurnExpect = TurnExpect()

    @field_validator("say", mode="before")
    @classmethod
    def _said(cls, value: Any) -> Any:
        """YAML reads a bare ``yes``/``no``/``ok``... as a boolean and ``1234`` as a number: a caller said the word."""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value) if isinstance(value, (int, float)) else value

    @model_validator(mode="after")
    def _one_input(self) -> Turn:
        if (self.say is None) == (self.web is None):
            raise ValueError("a turn needs exactly one of 'say' or 'web'")
        if self.web is not None and set(self.web) != {"form", "field", "value"}:
            raise ValueError("'web' needs form, field and value")
        return self


class EndExpect(_Strict):
    """What must hold once the conversation is over."""

    escalates: bool | None = None
    tools: OneOrMany[str | ToolExpect] = Field(default_factory=list)  # each was called at some point
    not_tools: OneOrMany[str] = Field(default_factory=list)  # never called
    form: dict[str, str] = Field(default_factory=dict)  # final value of form fields (case-insensitive)
    sms: int | None = None  # texts sent in the call (links and confirmations)
    never_says: OneOrMany[str] = Field(default_factory=list)  # in no reply of the call
    misheard: int | None = None  # number of `misheard` events


class Conversation(_Strict):
    name: str
    caller: str | None = None  # the caller's number; none: an unknown caller
    safety: bool = False  # a safety case: every one must pass
    tags: list[str] = Field(default_factory=list)
    note: str = ""
    turns: list[Turn] = Field(min_length=1)
    expect: EndExpect = EndExpect()


class Suite(_Strict):
    agent: str | None = None  # the agent it is written for (informative)
    description: str = ""
    conversations: list[Conversation] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        seen: set[str] = set()
        for conversation in self.conversations:
            if conversation.name in seen:
                raise ValueError(f"conversation name {conversation.name!r} is used twice")
            seen.add(conversation.name)
        return self


_FIELDS = sorted({n for m in (ToolExpect, TurnExpect, Turn, EndExpect, Conversation, Suite) for n in m.model_fields})


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; a problem raises ConfigError with ``file:line: field: what``."""
    suite, _ = load_model(Path(path), Suite, known_fields=_FIELDS, what="suite fields (agent, conversations)")
    return suite


# ------------------------------------------------------------------ running


@dataclass
class Failure:
    conversation: str
    turn: int | None  # 1-based caller turn, None for the end checks
    check: str
    detail: str

    def __str__(self) -> str:
        where = f"turn {self.turn}" if self.turn else "end"
        return f"{self.conversation} [{where}] {self.check}: {self.detail}"


@dataclass
class Transcript:
    """One conversation as it went: (caller, agent) pairs, and every event."""

    name: str
    safety: bool
    exchanges: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self) -> str:
        lines = [f"== {self.name}{' (safety)' if self.safety else ''}: {'pass' if self.passed else 'FAIL'}"]
        for said, reply in self.exchanges:
            lines += [f"   caller> {said}", f"   agent > {reply}"]
        lines += [f"   ! {f}" for f in self.failures]
        return "\n".join(lines)


@dataclass
class SuiteResult:
    transcripts: list[Transcript]

    def rate(self, safety: bool | None = None) -> tuple[int, int]:
        chosen = [t for t in self.transcripts if safety is None or t.safety == safety]
        return sum(t.passed for t in chosen), len(chosen)

    @property
    def failures(self) -> list[Failure]:
        return [f for t in self.transcripts for f in t.failures]

    def summary(self) -> str:
        safe_ok, safe_n = self.rate(True)
        rest_ok, rest_n = self.rate(False)
        return f"safety {safe_ok}/{safe_n}, other {rest_ok}/{rest_n}"


AgentFactory = Callable[[], Any]


SAFETY_CHECKS = frozenset({"escalates", "starts_with_any", "ends", "not_says", "never_says"})


async def run_suite(suite: Suite, agent_for: AgentFactory, *, timeout: float = 60.0) -> SuiteResult:
    """Run every conversation of ``suite`` in its own call with a fresh agent from ``agent_for()``."""
    return SuiteResult([await run_conversation(c, agent_for, timeout=timeout) for c in suite.conversations])


async def run_conversation(
    conversation: Conversation, agent_for: AgentFactory, *, timeout: float = 60.0, safety_only: bool = False
) -> Transcript:
    """One conversation in a real call (typed turns). With ``safety_only``, only the checks that
    make a case safe are kept (escalation, what is said first, what must never be said, the call's
    end): for a brain whose other answers are not under test, such as a model told to misbehave."""
    from .calls import TextCall

    out = Transcript(conversation.name, conversation.safety)
    replies: list[str] = []
    async with TextCall(agent_for(), caller=conversation.caller) as call:
        greeting = await call.greeting(timeout)
        if greeting:
            out.exchanges.append(("", greeting))
        for number, turn in enumerate(conversation.turns, start=1):
            if call.call.end_reason is not None or _ended(call):
                out.failures.append(Failure(conversation.name, number, "call", "the call had already ended"))
                break
            before = len(call.events())
            if turn.web is not None:
                reply = await call.web_value(turn.web["form"], turn.web["field"], turn.web["value"], timeout=timeout)
                said = f"[web form {turn.web['form']}.{turn.web['field']} = {turn.web['value']}]"
            else:
                assert turn.say is not None
                reply = await call.say(turn.say, confidence=turn.confidence, timeout=timeout)
                said = turn.say if turn.confidence >= 1 else f"{turn.say}  (confidence {turn.confidence})"
            await call.settle()
            out.exchanges.append((said, reply))
            replies.append(reply)
            events = call.events()[before:]
            for check, detail in turn_problems(turn.expect, reply, events, _ended(call)):
                if not safety_only or check in SAFETY_CHECKS:
                    out.failures.append(Failure(conversation.name, number, check, detail))
        all_events = call.events()
    for check, detail in end_problems(conversation.expect, replies, all_events):
        if not safety_only or check in SAFETY_CHECKS:
            out.failures.append(Failure(conversation.name, None, check, detail))
    return out


def _ended(call: Any) -> bool:
    return any(isinstance(e, ev.CallEnded) for e in call.events())


def _has(text: str, phrase: str) -> bool:
    return _norm(phrase) in _norm(text)


def _norm(text: str) -> str:
    """Lower case, numbers as digits ("twelve Baker Street" = "12 Baker Street"), amounts as a listener
    hears them ("$12.99" = "twelve dollars and ninety-nine cents" = "12.99"), punctuation as spaces."""
    s = " ".join(re.sub(r"[^\w'$.]+", " ", normalise(text.replace("-", " "))).split()).replace(" .", ".")
    s = re.sub(r"\b(\d+) dollars?(?: and)? (\d{1,2}) cents?\b", lambda m: f"{m.group(1)}.{int(m.group(2)):02d}", s)
    s = re.sub(r"\b(\d+) dollars?\b", r"\1.00", s)
    return re.sub(r"\$(\d+)(\.\d\d)?", lambda m: m.group(1) + (m.group(2) or ".00"), s)


def _first_sentence(text: str) -> str:
    """The first sentence as the one splitter (shaping) cuts it: "At 9 a.m. tomorrow, yes." is one."""
    return next(iter(split_sentences(text)), "")


def _tool_matches(expect: str | ToolExpect, called: ev.ToolCalled) -> bool:
    if isinstance(expect, str):
        return called.name == expect
    if called.name != expect.name:
        return False
    for key, want in expect.arguments.items():
        got = called.arguments.get(key)
        if got is None or _one(_norm(str(got))) != _one(_norm(str(want))):
            return False
    return True


def _one(value: str) -> str:
    """A plural on the last word does not change the thing: "avocados" is "avocado" ("oats milk" is not "oat milk")."""
    head, _, last = value.rpartition(" ")
    if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head} {last}".strip()


def _tool_text(expect: str | ToolExpect) -> str:
    return expect if isinstance(expect, str) else f"{expect.name}({expect.arguments})"


def turn_problems(e: TurnExpect, reply: str, events: Sequence[ev.Event], ended: bool) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    heard = f"the agent said {reply!r}"
    for phrase in e.says:
        if not _has(reply, phrase):
            problems.append(("says", f"{phrase!r} missing; {heard}"))
    if e.says_any and not any(_has(reply, p) for p in e.says_any):
        problems.append(("says_any", f"none of {e.says_any}; {heard}"))
    for phrase in e.not_says:
        if _has(reply, phrase):
            problems.append(("not_says", f"{phrase!r} was said; {heard}"))
    if e.starts_with_any and not any(_has(_first_sentence(reply), p) for p in e.starts_with_any):
        problems.append(("starts_with_any", f"the first sentence holds none of {e.starts_with_any}; {heard}"))
    if e.silent and reply.strip():
        problems.append(("silent", heard))
    transfers = [x for x in events if isinstance(x, ev.Transfer)]
    if e.escalates is not None and bool(transfers) != e.escalates:
        problems.append(("escalates", f"expected {'an' if e.escalates else 'no'} escalation; got {[t.reason for t in transfers]}; {heard}"))
    calls = [x for x in events if isinstance(x, ev.ToolCalled)]
    if e.tool is not None and not any(_tool_matches(e.tool, c) for c in calls):
        problems.append(("tool", f"{_tool_text(e.tool)} not called; called {[(c.name, c.arguments) for c in calls]}; {heard}"))
    if e.no_tool and calls:
        problems.append(("no_tool", f"called {[(c.name, c.arguments) for c in calls]}"))
    misheard = [x for x in events if isinstance(x, ev.Misheard)]
    if e.misheard is not None and bool(misheard) != e.misheard:
        problems.append(("misheard", f"expected {'a' if e.misheard else 'no'} misheard event; {heard}"))
    emotions = [x for x in events if isinstance(x, ev.EmotionEstimated)]
    label = emotions[-1].label if emotions else None
    if e.emotion is not None and label != e.emotion:
        problems.append(("emotion", f"expected {e.emotion}, estimated {label}"))
    if label is not None and label in e.emotion_not:
        problems.append(("emotion_not", f"estimated {label}"))
    styles = [x.style for x in events if isinstance(x, ev.StyleChosen)]
    for style in styles:
        if style in e.style_not:
            problems.append(("style_not", f"style {style} was chosen"))
    if e.ends is not None and ended != e.ends:
        problems.append(("ends", f"expected the call {'to end' if e.ends else 'to go on'}; {heard}"))
    return problems


def end_problems(e: EndExpect, replies: Sequence[str], events: Sequence[ev.Event]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    transfers = [x for x in events if isinstance(x, ev.Transfer)]
    if e.escalates is not None and bool(transfers) != e.escalates:
        problems.append(("escalates", f"expected {'an' if e.escalates else 'no'} escalation; got {[t.reason for t in transfers]}"))
    calls = [x for x in events if isinstance(x, ev.ToolCalled)]
    for want in e.tools:
        if not any(_tool_matches(want, c) for c in calls):
            problems.append(("tools", f"{_tool_text(want)} never called; called {[(c.name, c.arguments) for c in calls]}"))
    for name in e.not_tools:
        if any(c.name == name for c in calls):
            problems.append(("not_tools", f"{name} was called"))
    values: dict[str, str] = {}
    for x in events:
        if isinstance(x, ev.FormField) and x.status in ("filled", "confirmed", "link_filled") and x.value is not None:
            values[x.field] = x.value
    for name, want in e.form.items():
        if _norm(values.get(name, "")) != _norm(want):
            problems.append(("form", f"{name} is {values.get(name)!r}, expected {want!r}"))
    texts = [x for x in events if isinstance(x, ev.MessageSent)]
    if e.sms is not None and len(texts) != e.sms:
        problems.append(("sms", f"{len(texts)} sent, expected {e.sms}: {[t.body for t in texts]}"))
    for phrase in e.never_says:
        for reply in replies:
            if _has(reply, phrase):
                problems.append(("never_says", f"{phrase!r} in {reply!r}"))
    misheard = sum(isinstance(x, ev.Misheard) for x in events)
    if e.misheard is not None and misheard != e.misheard:
        problems.append(("misheard", f"{misheard} misheard events, expected {e.misheard}"))
    return problems


# ------------------------------------------------------------------ an agent folder's suites


def suite_files(folder: str | Path) -> list[Path]:
    """The suites of an agent folder: ``conversations/*.yaml``, in name order."""
    return sorted((Path(folder) / "conversations").glob("*.yaml"))


async def run_folder(
    folder: str | Path,
    *,
    suites: Sequence[Path] | None = None,
    llm: Any = None,
    only: str | None = None,
    safety_only: bool = False,
    timeout: float = 60.0,
    concurrency: int = 8,
) -> dict[str, SuiteResult]:
    """Run an agent folder's suites, each conversation in a fresh call with a fresh store.

    Every conversation gets its own SQLite store, SMS outbox and link signer in a temporary
    folder, so what one conversation leaves in memory cannot change the next one's greeting.
    ``llm`` (a :class:`~callwright.engines.base.LanguageModel`) runs the LLM brain instead of the
    embedded one (a factory ``llm()`` is called per conversation, for a fresh scripted model);
    ``only`` keeps the conversations whose name contains it; ``safety_only`` runs the safety
    conversations alone, with their safety checks (see :func:`run_conversation`). Up to
    ``concurrency`` conversations run at once (their tools mostly wait); results keep the file's order.
    """
    from ..agent.app import AgentApp
    from ..agent.spec import load_definition

    app = AgentApp(load_definition(folder))
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    results: dict[str, SuiteResult] = {}
    for path in suites if suites is not None else suite_files(folder):
        suite = load_suite(path)
        chosen = [
            c for c in suite.conversations
            if not (only and only not in c.name) and not (safety_only and not c.safety)
        ]
        transcripts: list[Transcript | None] = [None] * len(chosen)

        async def one(into: list[Transcript | None], index: int, conversation: Conversation) -> None:
            async with limiter:
                into[index] = await _in_fresh_call(app, conversation, llm, timeout=timeout, safety_only=safety_only)

        async with anyio.create_task_group() as tg:
            for index, conversation in enumerate(chosen):
                tg.start_soon(one, transcripts, index, conversation)
        results[path.stem] = SuiteResult([t for t in transcripts if t is not None])
    return results


async def _in_fresh_call(app: Any, conversation: Conversation, llm: Any, *, timeout: float, safety_only: bool) -> Transcript:
    """``conversation`` with the shared agent definition and indexes, and services of its own."""
    import copy
    import tempfile

    from ..agent.app import Services
    from ..jobs.notify import OutboxNotifier
    from ..store import open_store
    from ..transport.links import LinkSigner

    with tempfile.TemporaryDirectory(prefix="callwright-suite-") as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'callwright.db'}")
        try:
            own = copy.copy(app)  # shares the loaded definition, matcher and documents; not the services
            own.services = Services(
                store=store, notifier=OutboxNotifier(store), links=LinkSigner("suite-link-secret-of-32-characters"),
                public_url="http://127.0.0.1:8000", llm=llm() if callable(llm) else llm, data_dir=Path(tmp),
            )
            return await run_conversation(conversation, own.agent, timeout=timeout, safety_only=safety_only)
        finally:
            await store.close()
