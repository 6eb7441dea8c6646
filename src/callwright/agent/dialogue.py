"""The dialogue manager: what the agent is doing, what it asked, and how to read the answer.

One :class:`Dialogue` per call. It holds the :class:`Task` being carried out (an intent with its
slots, form and confirmation), the :class:`Question` the agent last asked, what it last said
(for "say that again") and the thing last talked about (for "two of those"). Brains call its
operations (start an intent, answer from the documents, run a tool, hand over to a person); it
reads every caller turn in the light of the open question:

* every fact a turn gives is taken at once (intent, slots and form fields, each from its own words);
* a correction ("actually make it three", "no, I said Tuesday") changes only what it names, at
  any point of a task, and the agent carries on from where it was;
* short answers are read against the question they answer: "yeah" confirms a read-back, but an
  "ok thanks" after an offer of a person does not accept it; "no" at the read-back of an order
  asks what to change instead of throwing the order away;
* a side question in the middle of a form is answered, then the agent returns to its question;
* a turn recognised with low confidence that matches nothing confidently is asked again, never
  acted on as a guess; a second miss offers another way (keypad, texted link, a person).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..clock import offload
from . import answers, mishearing
from .base import Act, Context, Hangup, Listen, Say, TransferCall, Turn
from .escalation import Escalation, Mode, handover_summary
from .forms import PATIENCE, FormState, judge, wants_patience
from .intents import OUT_OF_SCOPE, Match
from .reading import (
    asking_clause,
    find_values,
    is_correction,
    is_question,
    question_part,
    questions,
    replaced_part,
    request_part,
    resolve_references,
    yes_no,
)
from .replies import fill
from .safety import Verdict
from .spec import PATIENT_KINDS, IntentSpec
from .state import Brain, Question, Reading, Task
from .text import clauses, normalise
from .tools import AgentTool, Outcome, ToolRunner, idempotency_key
from .values import FieldKind, Parsed, parse_value

if TYPE_CHECKING:
    from .app import AgentApp
    from .knowledge import Answer, Passage
    from .memory import CallerMemory

SCOPE_MARGIN = 0.1  # an out-of-scope match this far under the intent threshold still counts, if no document answers
SCOPE_LEAD = 0.15  # ... and when it leads every request by this much, the documents must answer by SCOPE_DOCS_MARGIN more
SCOPE_DOCS_MARGIN = 0.08
_ORDINAL_REFERENCE = re.compile(
    r"\b(?:the )?(first|second|third|last) (?:thing|part|bit|one|question|answer|point)"
    r"(?: (?:you (?:said|told me|mentioned|were saying|just said)|about))?\b"
)
_FOLLOW_UP = re.compile(
    r"^(?:(?:ok|okay|right|so|oh|um|uh|alright|hmm|yeah|cool|thanks)[\s,]+)*"  # "ok and what if it goes darker"
    r"(?:and|what about|how about|and what about|same (?:for|with)|and for|and with|what if|and if)\b"
)
_REASON = re.compile(r"[\s,]+(?:because|cos|cause|'cause|as|since) (?:i|i'm|i am|we|we're|he|she|my|it)\b.*$")
FOLLOW_UP_WORDS = 14  # a follow-up is short: a longer turn is a question of its own
OWN_SECTION_LEAD = 0.2  # how much better another section must answer a follow-up alone than the last answer does
JOB_FOLLOW_S = 3600.0  # a call follows its background jobs at most this long (it usually ends first)
JOB_POLL_S = 0.5  # how often it looks at the job ledger meanwhile
log = logging.getLogger("callwright.agent")


class Dialogue:
    """One call's dialogue: its task, its open question, and the operations brains act through."""

    def __init__(self, app: AgentApp, memory: CallerMemory, runner: ToolRunner) -> None:
        self.app = app
        self.spec = app.spec
        self.replies = app.replies
        self.memory = memory
        self.runner = runner
        self.escalation = Escalation(app.spec.escalation)
        self.context: Context | None = None
        self.task: Task | None = None
        self.question: Question | None = None
        self.referent: str | None = None  # the thing last talked about ("oat milk")
        self.mentioned: list[str] = []  # the things talked about, in the order they came up ("the second one")
        self.asked = ""  # the question the documents last answered, for a follow-up ("and the night one?")
        self.answered: Passage | None = None  # and the passage that answered it
        self.said: list[tuple[int, Answer]] = []  # the answers given, by turn, for "the second thing you said"
        self.misses = 0  # turns in a row not understood
        self.escalated = False
        self.link_tasks: dict[tuple[str, str], Task] = {}  # (form, field) -> the task waiting for that link
        self.watched_jobs: set[str] = set()  # background jobs whose SMS this call waits to show
        self.dtmf = ""  # keypad digits typed so far
        self.last_intent: IntentSpec | None = None  # the last request carried out ("and what about 1234?")
        self.suspended: list[tuple[Task, Question]] = []  # tasks put aside for a side request, resumed after it
        self.note = ""  # what the brain should know on its next request ("the caller confirmed the address")
        self.style = "neutral"  # the reply style chosen for this turn (calm, warm, upbeat, neutral)
        self._hand_back = False
        self.offered: set[tuple[str, str]] = set()  # (form, field) whose saved value was offered back

    # ------------------------------------------------------------------ helpers
    def emit(self, event: ev.Event) -> None:
        if self.context is not None and self.context.emit is not None:
            self.context.emit(event)

    def now(self) -> datetime:
        """The call's clock in the agent's time zone: what "today", "tomorrow" and "at three" mean."""
        return self.app.now()

    def ask(self, question: Question) -> Say:
        self.question = question
        return Say(question.text)

    async def read(self, turn: Turn) -> Reading:
        resolved = resolve_references(turn.text, self.referent, self.mentioned)
        intents = await offload(self._rank, request_part(resolved))
        u = self.spec.understanding
        return Reading(turn.text, resolved, intents, yes_no(turn.text), is_correction(turn.text), is_question(turn.text),
                       u.intent_threshold, u.strong_match)

    def _rank(self, text: str) -> list[Match]:
        """Intents ranked on the turn, and on its clause that asks for something when it has others
        ("got any gluten free bread? my daughter's coeliac": the context clause dilutes the request)."""
        ranked = self.app.matcher.rank(text)
        asking = asking_clause(text)
        if asking is None:
            return ranked
        best = {m.intent: m for m in ranked}
        for m in self.app.matcher.rank(asking):
            if m.intent not in best or m.score > best[m.intent].score:
                best[m.intent] = m
        return sorted(best.values(), key=lambda m: -m.score)

    def values(self, task: Task) -> dict[str, Any]:
        values: dict[str, Any] = {"name": self.memory.name or "", "phone": self.memory.phone or "", **task.slots}
        if task.form is not None:
            values.update(task.form.values)
        return values

    def wanted(self, task: Task, *, missing_only: bool) -> dict[str, FieldKind]:
        wanted: dict[str, FieldKind] = {}
        for name, kind in task.intent.slots.items():
            if not missing_only or name not in task.slots:
                wanted[name] = kind
        if task.form is not None:
            for f in task.form.spec.fields:
                if not missing_only or (f.name not in task.form.values and f.name not in task.pending):
                    wanted[f.name] = f.type
        return wanted

    def _frame(self, intent: IntentSpec) -> frozenset[str]:
        return frozenset(self.app.matcher.frame_words(intent.name))

    # ------------------------------------------------------------------ one turn
    async def respond(self, turn: Turn, brain: Brain, *, prefix: str = "") -> AsyncIterator[Act]:
        """Read the turn and answer it. ``prefix`` (an acknowledgement of the caller's mood) is said
        first, unless the turn was misheard: then we do not know what we would acknowledge."""
        if turn.source == "dtmf":
            async for act in mishearing.keypad(self, turn, brain):
                yield act
            return
        reading = await self.read(turn)
        if await mishearing.misheard(self, turn, reading):
            async for act in mishearing.say_misheard(self, turn):
                yield act
            return
        self.misses = 0
        if prefix:
            yield Say(prefix + " ")
        if self.task is not None and reading.correction and self.question is not None and self.question.kind in ("slot", "field"):
            changed = self.apply_correction(self.task, turn, reading)
            if changed:
                async for act in self.after_correction(turn, changed):
                    yield act
                return
        question, self.question = self.question, None
        ending = False
        acts = self.new_request(turn, reading, brain) if question is None else answers.answer(self, question, turn, reading, brain)
        async for act in acts:
            ending = ending or isinstance(act, (Hangup, TransferCall))
            yield act
        if self._hand_back and not ending:
            self._hand_back = False
            async for act in self.new_request(turn, reading, brain):
                yield act
        if self.question is None and self.task is None and self.suspended and not ending:
            task, q = self.suspended.pop()  # a side request is done: back to what we were doing
            self.task = task
            yield Say(" " + fill(self.replies["back_to"], {"question": _lower_first(q.text)}))
            self.question = q

    async def new_request(self, turn: Turn, reading: Reading, brain: Brain) -> AsyncIterator[Act]:
        """A turn that answers nothing we asked. Scope is decided here, in code, for every brain."""
        top = reading.intents[0] if reading.intents else None
        if top is not None and top.intent == OUT_OF_SCOPE and top.score >= reading.threshold - SCOPE_MARGIN:
            # Out of scope when it matches the agent's out-of-scope examples, or nearly does and the
            # documents have nothing on it either: deflected (or escalated), never improvised.
            # Clearly nearer the out-of-scope examples than any request ("should I be taking more of
            # the codeine?"): the documents must answer clearly better than just enough to keep it.
            runner_up = reading.intents[1].score if len(reading.intents) > 1 else 0.0
            margin = SCOPE_DOCS_MARGIN if top.score - runner_up >= SCOPE_LEAD else 0.0
            if top.score >= reading.threshold or not await self.documents_answer(question_part(reading.resolved), margin):
                async for act in self.out_of_scope(turn):
                    yield act
                return
        async for act in brain.respond(turn, reading, self):
            yield act

    async def documents_answer(self, question: str, margin: float = 0.0) -> bool:
        """Whether the documents answer ``question``, by ``margin`` more than just confidently."""
        knowledge = self.app.knowledge
        if knowledge is None:
            return False
        answer = await knowledge.asearch(question)
        return answer.confident and answer.hits[0].score >= knowledge.min_score + margin

    async def cancel(self) -> AsyncIterator[Act]:
        self.task = None
        yield self.ask(Question("anything_else", self.replies["cancelled"]))

    # ------------------------------------------------------------------ values from a turn
    def kind(self, task: Task, name: str) -> FieldKind:
        if name in task.intent.slots:
            return task.intent.slots[name]
        assert task.form is not None
        return task.form.field(name).type

    def find(self, task: Task, reading: Reading, *, missing_only: bool, whole: str | None) -> dict[str, Parsed]:
        choices = {f.name: f.choices for f in task.form.spec.fields} if task.form is not None else {}
        wanted = self.wanted(task, missing_only=missing_only)
        if whole is not None and whole not in wanted:
            wanted[whole] = self.kind(task, whole)
        about = {f.name for f in task.form.spec.fields if f.type == "text"} if task.form is not None else set()
        return find_values(
            reading.resolved, wanted, now=self.now(), region=self.spec.identity.region, choices=choices,
            frame=self._frame(task.intent), whole=whole, about=about,
        )

    def apply_correction(self, task: Task, turn: Turn, reading: Reading) -> dict[str, Parsed]:
        """Values the task already had that the turn states anew (a correction): applied, and returned."""
        current = self.values(task) | {k: p.text for k, p in task.pending.items()}
        typed = {k: str(v) for k, v in current.items() if k in self.wanted(task, missing_only=False) and self.kind(task, k) != "text"}
        part = replaced_part(reading.text, typed)  # "X, not Y" is checked against the values themselves
        if part is not None:  # "no, it's 21, not 12": only the part turned down changes, in the value that had it
            name, text = part
            parsed = parse_value(self.kind(task, name), text, now=self.now(), region=self.spec.identity.region)
            if parsed is not None and parsed.text != str(current[name]):
                task.confirmed = False
                self.apply_found(task, turn, {name: parsed})
                return {name: parsed}
        found = self.find(task, reading, missing_only=False, whole=None)
        if reading.correction:
            for name, kind in self.wanted(task, missing_only=False).items():
                if kind == "address" and name not in found and name in current:
                    street = _street_correction(reading.text, str(current[name]))
                    if street is not None:
                        found[name] = street
        changed = {
            k: v for k, v in found.items()
            if k in current and str(current[k]) != v.text and self.kind(task, k) != "text"
        }
        # a text value (a product) changes only when it is all the correction names ("make it salmon
        # instead"); "no, Elm Road, not Elm Street" corrects the address, not the product
        if not changed and reading.correction:
            for name, parsed in found.items():
                if self.kind(task, name) == "text" and name in current and parsed.text not in ("", current[name]):
                    if len(parsed.text.split()) <= 4:
                        changed[name] = parsed
        if changed:
            task.confirmed = False
            self.apply_found(task, turn, changed)
            # "actually make it four, and it's 3 Harbour Lane": what else the turn gives is taken too
            more = {k: v for k, v in self.find(task, reading, missing_only=True, whole=None).items() if k not in changed}
            self.apply_found(task, turn, more)
        return changed

    def apply_found(self, task: Task, turn: Turn, found: dict[str, Parsed]) -> None:
        for name, parsed in found.items():
            kind = self.kind(task, name)
            if name in task.intent.slots:
                task.slots[name] = parsed.text
                task.said.pop(name, None)
                if kind == "text" and parsed.spoken != parsed.text:
                    task.said[name] = parsed.spoken
                if kind == "text":
                    self.referent = parsed.text
                    if parsed.text not in self.mentioned:
                        self.mentioned.append(parsed.text)
                continue
            assert task.form is not None
            spec = task.form.field(name)
            verdict = judge(spec, parsed, turn.confidence)
            if verdict == "fill":
                task.form.values[name] = parsed.text
                task.pending.pop(name, None)
                self.emit(ev.FormField(form=task.form.name, field=name, status="filled", value=parsed.text, confidence=turn.confidence))
            elif verdict == "confirm":
                task.form.values.pop(name, None)
                task.pending[name] = parsed

    async def after_correction(self, turn: Turn, changed: dict[str, Parsed]) -> AsyncIterator[Act]:
        said = ", ".join(p.spoken for p in changed.values())
        yield Say(f"Okay, {said}. ")
        q = self.question
        task = self.task
        still_missing = task is not None and q is not None and q.name not in self.values(task) and q.name not in task.pending
        if q is not None and q.kind in ("slot", "field") and q.name not in changed and still_missing:
            self.question = None
            yield self.ask(q)
            return
        self.question = None
        async for act in self.advance(turn):
            yield act

    # ------------------------------------------------------------------ carrying out an intent
    async def start(
        self, intent: IntentSpec, turn: Turn, reading: Reading | None = None, slots: dict[str, Any] | None = None, *,
        score: float | None = None, escalation: str = "",
    ) -> AsyncIterator[Act]:
        """Take on a request: every value the turn already gives, then ask for the rest, confirm, act."""
        if intent.action is not None:
            async for act in self._builtin(intent, turn, reading):
                yield act
            return
        form = FormState(intent.form, self.spec.forms[intent.form]) if intent.form else None
        task = Task(intent, {k: str(v) for k, v in (slots or {}).items()}, form, escalation=escalation)
        if self.task is not None and self.question is not None:
            self.suspended.append((self.task, self.question))
        self.task = task
        found: dict[str, Parsed] = {}
        if slots is None and reading is not None:
            found = self.find(task, reading, missing_only=True, whole=None)
            for name, kind in intent.slots.items():  # "I'll take two": the thing is the one just talked about
                if kind == "text" and name not in found and self.referent and _refers(reading.text):
                    found[name] = Parsed(self.referent, self.referent, self.referent, 0.9)
        recognized = score if score is not None else (reading.best.score if reading and reading.best else 1.0)
        self.emit(ev.IntentRecognized(turn=turn.index, name=intent.name, score=recognized, slots={k: v.text for k, v in found.items()}))
        self.apply_found(task, turn, found)
        async for act in self.advance(turn):
            yield act

    async def goodbye(self, turn: Turn) -> AsyncIterator[Act]:
        """The caller says goodbye: whatever was half done is left, and the call ends."""
        self.task, self.question = None, None
        self.suspended.clear()
        intent = next((i for i in self.spec.intents if i.action == "goodbye"), None)
        self.emit(ev.IntentRecognized(turn=turn.index, name=intent.name if intent else "goodbye", score=1.0))
        yield Say(fill((intent.reply if intent else None) or self.replies["goodbye"], {"name": self.memory.name or ""}))
        yield Hangup("goodbye")

    async def _builtin(self, intent: IntentSpec, turn: Turn, reading: Reading | None) -> AsyncIterator[Act]:
        if intent.action in ("transfer", "book_human"):
            mode: Mode = "booking" if intent.action == "book_human" else "transfer"
            async for act in self.escalate(turn, f"the caller asked ({intent.name})", mode=mode, reading=reading):
                yield act
        elif intent.action == "forget_me":
            yield self.ask(Question("forget", self.replies["forget_confirm"]))
        elif intent.action == "goodbye":
            yield Say(fill(intent.reply or self.replies["goodbye"], {"name": self.memory.name or ""}))
            yield Hangup("goodbye")
        elif intent.action == "knowledge":
            async for act in self.answer_from_documents(turn, question_part(reading.resolved) if reading else turn.text):
                yield act

    async def advance(self, turn: Turn) -> AsyncIterator[Act]:
        """Ask for the next missing thing, read back what needs it, confirm, or do the task."""
        task = self.task
        if task is None:
            return
        intent = task.intent
        for name, kind in intent.slots.items():
            if name not in task.slots:
                text = intent.ask.get(name, f"What's the {name.replace('_', ' ')}?")
                if kind in PATIENT_KINDS:
                    yield Listen(PATIENCE, f"{intent.name}.{name}")
                yield self.ask(Question("slot", text, name))
                return
        if task.form is not None:
            for name, parsed in list(task.pending.items()):
                self.emit(ev.FormField(form=task.form.name, field=name, status="confirm", value=parsed.text, confidence=turn.confidence))
                yield self.ask(Question("read_back", fill(self.replies["confirm_value"], {"value": parsed.spoken}), name, parsed.text, parsed.spoken))
                return
            missing = task.form.missing()
            if missing is not None:
                async for act in self.ask_field(task.form, missing.name):
                    yield act
                return
            if not task.form.completed:
                task.form.completed = True
                if task.form.spec.done:  # the form's own line, once, as it completes ("Thanks, I have everything.")
                    yield Say(fill(task.form.spec.done, self.values(task)) + " ")
        if intent.confirm and not task.confirmed:
            yield self.ask(Question("confirm", fill(intent.confirm, self.values(task) | task.said)))
            return
        async for act in self.execute(task, turn):
            yield act

    async def ask_field(self, form: FormState, name: str, retry: bool = False) -> AsyncIterator[Act]:
        spec = form.field(name)
        saved = self._saved_value(form, name) if not retry else None
        if saved is not None and self.task is not None:
            # "Same delivery address as last time, 12 Baker Street?": a yes keeps it, a new value replaces it
            self.task.pending[name] = saved
            label = spec.label or name.replace("_", " ")
            yield self.ask(Question("saved", fill(self.replies["saved_value"], {"label": label, "value": saved.spoken}), name, saved.text, saved.spoken))
            return
        if spec.other_modality or form.tries.get(name, 0) >= spec.max_tries:
            async for act in self.send_link(form, name):
                yield act
            return
        self.emit(ev.FormField(form=form.name, field=name, status="asked", tries=form.tries.get(name, 0)))
        if wants_patience(spec):
            yield Listen(PATIENCE, f"{form.name}.{name}")
        if retry:
            yield Say(self.replies["retry"] + " ")
        yield self.ask(Question("field", spec.prompt, name))

    def _saved_value(self, form: FormState, name: str) -> Parsed | None:
        """The value kept for this field from an earlier call, once per field and call, if it still parses."""

        saved = self.memory.facts.get(name)
        if saved is None or (form.name, name) in self.offered or form.tries.get(name, 0):
            return None
        self.offered.add((form.name, name))
        spec = form.field(name)
        return parse_value(spec.type, saved, now=self.now(), choices=spec.choices, region=self.spec.identity.region)

    def can_link(self) -> bool:
        s = self.app.services
        return bool(self.memory.phone and s.links is not None and s.notifier is not None and self.context is not None)

    async def send_link(self, form: FormState, name: str) -> AsyncIterator[Act]:
        """Text the caller a signed link to a web form for this field; its value comes back to the call."""
        spec = form.field(name)
        label = spec.label or name.replace("_", " ")
        links, notifier, phone = self.app.services.links, self.app.services.notifier, self.memory.phone
        if links is None or notifier is None or phone is None or self.context is None:
            self.emit(ev.FormField(form=form.name, field=name, status="failed", tries=form.tries.get(name, 0)))
            yield Say(fill(self.replies["link_no_phone"], {"label": label}) + " ")
            self.task = None
            if self.escalation.possible:
                yield self.ask(Question("offer_person", self.spec.escalation.offer, value=self.spec.escalation.offer_mode))
            return
        business = self.spec.description or self.spec.name
        token = links.make(self.context.call_id, form.name, name, spec.type, label, business=business)
        url = f"{self.app.services.public_url.rstrip('/')}/f/{token}"
        body = f"{business}: please enter your {label} here: {url}"
        message = await notifier.send_sms(phone, body, dedupe_key=f"link:{self.context.call_id}:{form.name}:{name}", purpose="form_link")
        form.linked.add(name)
        if self.task is not None:
            self.link_tasks[(form.name, name)] = self.task  # the value may arrive after other talk
        self.emit(ev.MessageSent(message_id=message.id, to=phone, body=body, purpose="form_link"))
        self.emit(ev.FormField(form=form.name, field=name, status="link_sent", tries=form.tries.get(name, 0)))
        yield Say(fill(self.replies["link_sent"], {"label": label}))

    async def web_value(self, turn: Turn) -> AsyncIterator[Act]:
        """A value typed into a texted form: it fills the field of the task the link was sent for."""
        from .values import parse_value

        form_name, name, value = turn.data.get("form"), turn.data.get("field"), turn.data.get("value", turn.text)
        task = self.link_tasks.pop((str(form_name), str(name)), None)
        if task is None or task.form is None:
            return  # a late or foreign link: nothing waits for it
        self.task = task  # back to the task the link was sent for, even if the caller talked about other things
        spec = task.form.field(str(name))
        parsed = parse_value(spec.type, str(value), now=self.now(), choices=spec.choices, region=self.spec.identity.region)
        task.form.values[spec.name] = parsed.text if parsed is not None else str(value).strip()
        task.pending.pop(spec.name, None)
        self.emit(ev.FormField(form=task.form.name, field=spec.name, status="link_filled", value=task.form.values[spec.name]))
        self.question = None
        yield Say(fill(self.replies["link_filled"], {"label": spec.label or spec.name.replace("_", " ")}) + " ")
        async for act in self.advance(turn):
            yield act

    # ------------------------------------------------------------------ doing it
    async def execute(self, task: Task, turn: Turn) -> AsyncIterator[Act]:
        intent = task.intent
        values = self.values(task)
        if intent.tool is None:
            if intent.reply:
                yield Say(fill(intent.reply, values))
            if task.hand_back and task.form is not None:
                given = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in task.form.values.items())
                self.note = f"The caller confirmed the {task.form.name} details: {given}. Go on from there."
                self._hand_back = True
            self.finish(task, values)
            if intent.hangup:
                yield Hangup("goodbye")
            return
        tool = self.app.definition.tools[intent.tool]
        arguments = _arguments(tool, values)
        if tool.options.background and self.app.services.jobs is not None:
            async for act in self._background(tool, arguments, task, turn):
                yield act
            return
        outcome: Outcome | None = None
        async for item in self.run_tool(tool, arguments, turn):
            if isinstance(item, Outcome):
                outcome = item
            else:
                yield item
        assert outcome is not None and self.context is not None
        if outcome.status == "ok":
            if task.escalation:
                self.emit(ev.Transfer(to=tool.name, reason=task.escalation, mode="booking"))
            values["result"] = outcome.result
            if intent.reply:
                yield Say(fill(intent.reply, values))
            elif isinstance(outcome.result, str):
                yield Say(outcome.result)
            else:
                yield Say(self.replies["anything_else"])
            if intent.sms:
                await self.text(fill(intent.sms, values), f"sms:{idempotency_key(self.context.call_id, tool.name, arguments)}", intent.name)
            self.finish(task, values)
        else:
            line = (tool.options.timeout_reply or self.replies["tool_timeout"]) if outcome.status == "timeout" else (intent.error_reply or self.replies["tool_error"])
            yield Say(line)
            self.task = None
            if intent.slots:
                self.last_intent = intent  # "sorry, wrong receipt, it's 4567": the same request again
        if intent.hangup:
            yield Hangup("goodbye")

    async def run_tool(self, tool: AgentTool, arguments: dict[str, Any], turn: Turn) -> AsyncIterator[Say | Outcome]:
        assert self.context is not None
        async for item in self.runner.run(tool, arguments, turn=turn.index, context=self.context):
            yield item

    async def _background(self, tool: AgentTool, arguments: dict[str, Any], task: Task, turn: Turn) -> AsyncIterator[Act]:
        jobs = self.app.services.jobs
        assert self.context is not None and jobs is not None
        key = idempotency_key(self.context.call_id, tool.name, arguments)
        call = f"{turn.index}.job"
        phone = self.memory.phone
        self.emit(ev.ToolCalled(turn=turn.index, call=call, name=tool.name, arguments=arguments, idempotency_key=key, background=True))
        payload = {"agent": str(self.app.definition.folder), "tool": tool.name, "arguments": arguments, "key": key, "call_id": self.context.call_id, "caller": phone}
        from ..jobs.queue import JobError

        try:
            job_id = await jobs.submit(f"{self.spec.name}.{tool.name}", payload, job_id=key, phone=phone)
        except JobError as exc:  # the queue is down: the caller hears it did not happen, the operator why
            self.emit(ev.ToolResult(turn=turn.index, call=call, name=tool.name, status="error", error=exc.message))
            self.emit(ev.ErrorEvent(code="job", message=exc.message, stage="job"))
            yield Say(self.replies["tool_error"])
            self.task = None
            return
        self.emit(ev.JobQueued(job_id=job_id, name=tool.name, notify=phone))
        self.emit(ev.ToolResult(turn=turn.index, call=call, name=tool.name, status="queued", result={"job_id": job_id}))
        if phone and job_id not in self.watched_jobs and self.context.background is not None:
            self.watched_jobs.add(job_id)
            self.context.background.start_soon(self._follow_job, job_id, tool.name, phone)
        yield Say(self.replies["background" if phone else "background_no_phone"])
        values = self.values(task)
        values["result"] = {"job_id": job_id}
        self.finish(task, values)

    async def _follow_job(self, job_id: str, name: str, phone: str) -> None:
        """While the call lasts, wait for the background job and put the SMS it sent in the call's
        events (the job may run in another process: the job ledger and the outbox are in the store)."""
        from ..jobs.queue import JobError

        jobs, store = self.app.services.jobs, self.app.services.store
        if jobs is None or store is None:
            return
        try:
            job = await jobs.wait(job_id, timeout=JOB_FOLLOW_S, every=JOB_POLL_S)
            if job.status == "failed":
                why = f"background job {name} failed, so no SMS was sent: {job.error}"
                self.emit(ev.ErrorEvent(code="job", message=why, stage="job"))
                return
            sent = [m for m in await store.messages(to=phone, limit=50) if m.dedupe_key == f"job:{job_id}"]
        except JobError:
            return  # still running: the SMS goes out all the same, after this call
        except Exception as exc:  # the store is unreachable: the call goes on without the news
            log.warning("call %s: cannot follow job %s: %s", self.context.call_id if self.context else "?", job_id, exc)
            return
        for sms in sent:
            self.emit(ev.MessageSent(message_id=sms.id, to=sms.to, body=sms.body, purpose=sms.purpose))

    async def text(self, body: str, dedupe_key: str, purpose: str) -> None:
        notifier = self.app.services.notifier
        phone = self.memory.phone
        if notifier is None or not phone:
            return
        message = await notifier.send_sms(phone, body, dedupe_key=dedupe_key, purpose=purpose)
        self.emit(ev.MessageSent(message_id=message.id, to=phone, body=body, purpose=purpose))

    def finish(self, task: Task, values: dict[str, Any]) -> None:
        intent = task.intent
        topic = fill(intent.summary, values | task.said) if intent.summary else intent.name.replace("_", " ")
        self.memory.done.append(topic)
        kinds: dict[str, str] = dict(intent.slots)
        if task.form is not None:
            kinds.update({f.name: f.type for f in task.form.spec.fields})
        self.memory.learn(values, kinds)
        if intent.slots:
            self.last_intent = intent
        if intent.follow_up:
            self.memory.follow_ups.append((topic, {"intent": intent.follow_up, "slots": _plain(values)}))
        if self.task is task:
            self.task = None

    # ------------------------------------------------------------------ documents, scope, not knowing
    async def answer_from_documents(self, turn: Turn, question: str) -> AsyncIterator[Act]:
        knowledge = self.app.knowledge
        meant = self._said_before(question)
        if meant is not None:  # "sorry, the second thing you said, how many weeks again?"
            async for act in self.answer_found(turn, meant, again=True):
                yield act
            return
        if knowledge is not None:
            follow_up = ""
            if self.asked and _FOLLOW_UP.match(normalise(question, digits=False)) and len(question.split()) <= FOLLOW_UP_WORDS:
                alone = await knowledge.asearch(question, k=12)
                before = next((h.score for h in alone.hits if h.passage == self.answered), 0.0)
                own_section = (
                    alone.confident and alone.hits[0].passage != self.answered
                    and knowledge.heading_names(alone.hits[0].passage, question)
                    and alone.hits[0].score - before >= OWN_SECTION_LEAD  # the last answer does not answer it nearly as well
                )
                if not own_section:
                    # "and the night one?" after "how often do I change the leg bag?": read with what was asked;
                    # but "ok, and the stairs themselves?" names a section of its own
                    follow_up = question
                    question = f"{self.asked} {question}"
            if follow_up and self.answered is not None:
                # "and how long does that take?" after the refund answer asks something new about the same
                # subject: the follow-up within the last answer's document, not the last answer again
                topic = self.answered.section.split(" > ")[0]
                again = await knowledge.asearch(question)
                if again.confident and again.hits[0].passage == self.answered and not knowledge.text_names(self.answered, follow_up):
                    within = await knowledge.asearch(f"{topic} {follow_up}")
                    # a section of the document, not its opening lines (the title holds the topic's words)
                    inside = [h for h in within.hits if " > " in h.passage.section] if within.confident else []
                    moved = inside[0].passage if inside else self.answered
                    if moved != self.answered and knowledge.heading_names(moved, follow_up):
                        async for act in self.answer_found(turn, replace(within, hits=inside)):
                            yield act
                        return
            asked = questions(question) if not follow_up else [question]
            if len(asked) > 1:  # two questions in one breath: each answered from its own section
                # each question without the reason told after it ("how much water should I take, because
                # I'm up all night emptying the bag": the bag is why, not what is asked)
                answers = [await knowledge.asearch(_REASON.sub("", q) or q) for q in asked]
                sections = {a.hits[0].passage for a in answers if a.confident}
                if len(sections) == len(answers):
                    for a in answers:
                        async for act in self.answer_found(turn, a):
                            yield act
                    return
            answer = await knowledge.asearch(question)
            if not answer.confident:
                # "when am I allowed to drive again, I'm going stir crazy stuck in the house": what the
                # caller tells around the question can drown it; the question alone is asked again
                said = clauses(normalise(turn.text, digits=False))
                asked_alone = [c for c in said if is_question(c) and len(c.split()) >= 3]
                if len(asked_alone) == 1 and len(said) > 1:
                    alone = await knowledge.asearch(asked_alone[0])
                    if alone.confident:
                        answer = alone
            self.asked = question if answer.confident else ""
            self.answered = answer.hits[0].passage if answer.confident else None
            self.emit(ev.KnowledgeCited(turn=turn.index, query=question, confident=answer.confident, passages=answer.cite()))
            if answer.confident:
                self.said.append((turn.index, answer))
                yield Say(knowledge.spoken_answer(answer) + " ")
                self.memory.done.append(f"asked: {turn.text}")
                return
        async for act in self.dont_know(turn):
            yield act

    def _said_before(self, question: str) -> Answer | None:
        """The answer an ordinal points to ("the second thing you said", "the first bit"), among
        those of the last turn that gave more than one; None when the turn points to none."""
        pointed = _ORDINAL_REFERENCE.search(normalise(question, digits=False))
        if pointed is None or not self.said:
            return None
        last = self.said[-1][0]
        answers = [a for index, a in self.said if index == last]
        if len(answers) < 2:
            return None
        index = {"first": 0, "second": 1, "third": 2}.get(pointed.group(1), len(answers) - 1)  # or "the last"
        return answers[index] if index < len(answers) else None

    async def answer_found(self, turn: Turn, answer: Answer, *, again: bool = False) -> AsyncIterator[Act]:
        """Say a confident answer the documents gave (one of the questions of a turn); ``again``: one
        said before, which keeps its place among the answers an ordinal points to."""
        knowledge = self.app.knowledge
        assert knowledge is not None
        self.emit(ev.KnowledgeCited(turn=turn.index, query=answer.query, confident=True, passages=answer.cite()))
        yield Say(knowledge.spoken_answer(answer) + " ")
        if not again:
            self.said.append((turn.index, answer))
        self.asked = answer.query
        self.answered = answer.hits[0].passage
        self.memory.done.append(f"asked: {answer.query}")

    async def out_of_scope(self, turn: Turn) -> AsyncIterator[Act]:
        scope = self.spec.scope
        self.emit(ev.IntentRecognized(turn=turn.index, name=OUT_OF_SCOPE, score=1.0))
        if scope.action == "escalate" and self.escalation.possible:
            yield Say(scope.reply + " ")
            async for act in self.escalate(turn, "out of scope"):
                yield act
            return
        yield Say(scope.reply + " ")
        yield self.ask(Question("anything_else", self.replies["anything_else"]))

    async def dont_know(self, turn: Turn, line: str = "dont_know") -> AsyncIterator[Act]:
        """Says it does not know (or, ``line="cant_do"``, that it cannot do that), then offers a person."""
        yield Say(self.replies[line] + " ")
        if self.escalation.possible:
            yield self.ask(Question("offer_person", self.spec.escalation.offer, value=self.spec.escalation.offer_mode))

    # ------------------------------------------------------------------ a person takes over
    async def escalate(self, turn: Turn, reason: str, mode: Mode | None = None, reading: Reading | None = None) -> AsyncIterator[Act]:
        chosen = self.escalation.mode(mode)
        self.question = None
        if chosen is None:
            yield Say(self.replies["no_escalation"])
            return
        self.escalated = True
        e = self.spec.escalation
        if chosen == "booking":
            async for act in self.start(self.escalation.booking_intent(), turn, reading, escalation=reason):
                yield act
            return
        assert e.transfer_to is not None
        summary = self.handover_summary(turn, reason)
        self.task = None
        self.memory.done.append(f"transferred to a person ({reason})")
        yield Say(e.transfer_reply)
        yield TransferCall(e.transfer_to, reason, summary)

    def handover_summary(self, turn: Turn, reason: str) -> str:
        """What the person taking the call hears first: who, what they asked, what was done."""
        said = [m.content for m in self.context.messages if m.role == "user"] if self.context is not None else []
        if not said or said[-1] != turn.text:
            said.append(turn.text)
        doing = ""
        if self.task is not None:
            given = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.values(self.task).items() if v and k not in ("name", "phone"))
            doing = self.task.intent.name.replace("_", " ") + (f" ({given})" if given else "")
        return handover_summary(name=self.memory.name, phone=self.memory.phone, reason=reason, said=said, done=self.memory.done, doing=doing)

    async def safety(self, turn: Turn, verdict: Verdict) -> AsyncIterator[Act]:
        """A red flag or a request for a person: advice first, then a person, whatever was going on."""
        mode: Mode | None = None if verdict.action == "advice_only" else verdict.action
        self.emit(ev.SafetyFlag(turn=turn.index, rule=verdict.rule, level=verdict.level, cues=list(verdict.cues), action=verdict.action))
        self.question = None
        if verdict.advice:
            yield Say(verdict.advice + " ")
        if verdict.action == "advice_only":
            if self.task is not None:
                self.question = None
            return
        reason = "the caller asked for a person" if verdict.level == "person" else f"red flag: {verdict.rule}"
        async for act in self.escalate(turn, reason, mode=mode):
            yield act


def _arguments(tool: AgentTool, values: dict[str, Any]) -> dict[str, Any]:
    """The tool's arguments from slots and form values, converted to its declared types.

    A value that does not convert is passed as it is: the ToolRunner validates again and ends the
    call in one ``tool.result`` error naming the argument, instead of running the tool.
    """
    from ..errors import ToolArgumentError

    given = {k: v for k, v in values.items() if k in tool.parameters and v not in (None, "")}
    try:
        return tool.validate(given)
    except ToolArgumentError:
        return given


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool))}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


_REFERRING = ("it", "that", "those", "them", "these", "this", "one", "ones", "same")




def _refers(text: str) -> bool:
    said = text.lower().replace("?", " ").replace(",", " ").split()
    return any(w in _REFERRING for w in said) or len(said) <= 4




def _street_correction(text: str, previous: str) -> Parsed | None:
    """"No, I said Elm Road, not Elm Street": the street corrected, the house number kept."""
    from .reading import address_part
    from .values import parse_value

    said = address_part(text)
    parsed = parse_value("address", said)
    number = re.match(r"\d+[A-Za-z]?\b", previous)
    if parsed is None or parsed.certainty < 0.6 or number is None or re.match(r"\d", parsed.text):
        return None
    return parse_value("address", f"{number.group(0)} {parsed.text}")
