"""Running an agent definition on a call: the production practices around either brain.

:class:`AgentApp` holds what every call of one agent shares (the definition, the intent index, the
knowledge index, the store, the job queue, the notifier, the link signer). :meth:`AgentApp.agent`
makes a :class:`SpecAgent` for one call; it implements the :class:`~callwright.agent.base.Agent`
protocol, so the voice loop, ``callwright chat`` and tests drive it the same way.

Per turn a SpecAgent: estimates the caller's emotion and picks a reply style (and voice); tells any
tool result that finished after a barge-in; takes a web-form value that arrived; answers what it
asked for (a slot, a form field, a confirmation); or understands a new request: an intent (slots,
form, confirmation, tool, reply), a question for the curated knowledge, an out-of-scope request
(deflected or escalated), or something it does not know (it says so and offers a person).
Calls are remembered per caller (summary, open issues) and a caller can ask to be forgotten.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import phonenumbers

from .. import events as ev
from ..engines.base import LanguageModel, VoiceStyle
from .base import Act, Context, Hangup, Listen, Say, Style, TransferCall, Turn
from .emotion import EmotionTracker
from .forms import PATIENCE, FormState, judge, parse_answer, wants_patience
from .intents import OUT_OF_SCOPE, IntentMatcher, extract_slots
from .spec import Definition, IntentSpec
from .style import StylePolicy, StylePolicyOptions
from .tools import AgentTool, MemoryLedger, Outcome, ToolRunner, idempotency_key
from .values import parse_value

log = logging.getLogger("callwright.agent")

STRONG_MATCH = 0.75  # an intent matched at least this well is taken even when the documents also fit

REPLIES = {
    "filler": "One moment please.",
    "background": "This takes a few minutes. I'll text you when it's done, so feel free to hang up.",
    "background_no_phone": "This takes a few minutes. I'll have it ready if you call back.",
    "retry": "Sorry, I didn't catch that.",
    "confirm_value": "I heard {value}. Is that right?",
    "link_sent": "I've just texted you a link where you can type your {label}. I'll wait right here.",
    "link_no_phone": "Sorry, I can't take your {label} by voice right now, and I have no number to text a form to.",
    "link_filled": "Thanks, I have your {label} now.",
    "cancelled": "Okay, I won't do that. Is there anything else?",
    "tool_error": "Sorry, I couldn't do that just now. Please try again in a moment.",
    "tool_timeout": "Sorry, that's taking much longer than it should. Let's try again in a little while.",
    "late_result": "By the way, that's done now.",
    "dont_know": "I'm sorry, I don't know the answer to that.",
    "forget_confirm": "Do you want me to delete everything I remember about you? Please say yes or no.",
    "forgotten": "Done. I've deleted everything I had about you.",
    "not_forgotten": "Okay, I'll keep your details.",
    "welcome_back": "Welcome back, {name}.",
    "recall": "Are you calling about {topic} from {day}?",
    "recall_no": "No problem. How can I help?",
    "anything_else": "Is there anything else I can help with?",
    "goodbye": "Thanks for calling. Goodbye!",
    "no_escalation": "I'm sorry, I can't connect you to a person on this line.",
}


@dataclass
class Services:
    """Shared by every call of a server; each part is optional (a plain chat needs none)."""

    store: Any = None  # callwright.store.Store
    jobs: Any = None  # callwright.jobs.queue.JobQueue
    notifier: Any = None  # callwright.jobs.notify.Notifier
    links: Any = None  # callwright.transport.links.LinkSigner
    public_url: str = "http://127.0.0.1:8000"
    llm: LanguageModel | None = None
    data_dir: Path = Path(".callwright")  # where tools keep their state (ToolContext.data_dir)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class AgentApp:
    """One loaded agent definition and its shared indexes. Heavy work happens here, once."""

    def __init__(self, definition: Definition, services: Services | None = None) -> None:
        from ..engines.embed import shared_embedder

        self.definition = definition
        self.spec = definition.spec
        self.services = services or Services()
        self.embedder = shared_embedder()
        self.matcher = IntentMatcher(self.spec.intents, self.spec.scope.out_of_scope, embedder=self.embedder)
        self.knowledge = None
        if self.spec.knowledge is not None:
            from .knowledge import Knowledge

            kwargs: dict[str, Any] = {"embedder": self.embedder}
            if self.spec.knowledge.min_score is not None:
                kwargs["min_score"] = self.spec.knowledge.min_score
            self.knowledge = Knowledge.from_folder(definition.folder / self.spec.knowledge.folder, **kwargs)
        self.replies = {**REPLIES, **self.spec.replies}
        self._memory_ledger = MemoryLedger()
        self._warm()

    def _warm(self) -> None:
        """Load what the first turn of the first call would otherwise load (lexicons, date data)."""
        EmotionTracker().estimate("hello, thanks")
        parse_value("datetime", "tomorrow at three", now=self.services.now())
        self.matcher.rank("hello")
        if self.knowledge is not None:
            self.knowledge.search("hello")

    @property
    def ledger(self) -> Any:
        """Where side effects are recorded: the store when there is one."""
        return self.services.store or self._memory_ledger

    @property
    def name(self) -> str:
        return self.spec.name

    def agent(self) -> SpecAgent:
        if self.services.llm is not None:
            from .llm_brain import LlmSpecAgent

            return LlmSpecAgent(self)
        return SpecAgent(self)


@dataclass
class Task:
    """An intent being carried out: its slots, its form, whether the caller confirmed."""

    intent: IntentSpec
    slots: dict[str, str] = field(default_factory=dict)
    form: FormState | None = None
    confirmed: bool = False


@dataclass
class Waiting:
    """What the agent last asked, so the next turn is read as the answer."""

    kind: Literal["slot", "field", "field_confirm", "action_confirm", "forget_confirm", "recall", "offer_escalation"]
    name: str = ""
    value: str | None = None
    spoken: str | None = None


def fill(template: str, values: dict[str, Any]) -> str:
    """``{name}`` and ``{result.key}`` placeholders; unknown ones become empty (and are logged)."""

    def value(match: re.Match[str]) -> str:
        current: Any = values
        for part in match.group(1).split("."):
            current = current.get(part) if isinstance(current, dict) else getattr(current, part, None)
            if current is None:
                log.warning("template placeholder {%s} has no value", match.group(1))
                return ""
        return str(current)

    return re.sub(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}", value, template)


def e164(raw: str | None, region: str) -> str | None:
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SpecAgent:
    """One call's agent: the embedded brain (intents, slots, forms, retrieval) and every practice."""

    def __init__(self, app: AgentApp) -> None:
        self.app = app
        self.spec = app.spec
        self.name = app.spec.name
        self.runner = ToolRunner(ledger=app.ledger, data_dir=app.services.data_dir / "agents" / app.spec.name, default_filler=app.replies["filler"])
        self.tracker = EmotionTracker()
        e = self.spec.emotion
        self.policy = StylePolicy(
            StylePolicyOptions(
                allow_upbeat=e.allow_upbeat,
                escalate_after_angry_turns=e.escalate_after_angry_turns,
                escalate_on_distress=e.escalate_on_distress,
            )
        )
        self.phone: str | None = None
        self.caller_name: str | None = None
        self.task: Task | None = None
        self.waiting: Waiting | None = None
        self.done: list[str] = []  # what happened, for the call summary
        self.follow_ups: list[tuple[str, dict[str, Any]]] = []  # (topic, ref) to open as issues
        self.recall_issue: Any = None
        self.link_tasks: dict[tuple[str, str], Task] = {}  # (form, field) -> the task waiting for that link
        self.forgotten = False
        self.escalated = False
        self.context: Context | None = None

    # ------------------------------------------------------------------ call lifecycle
    def greeting(self, context: Context) -> str | None:
        return self.spec.greeting

    async def open(self, context: Context) -> str | None:
        """Identify the caller by number, recall earlier calls, and greet accordingly."""
        self.context = context
        self.phone = e164(context.caller, self.spec.identity.region)
        store = self.app.services.store
        known = None
        calls_before = 0
        if self.phone and store is not None and self.spec.memory.enabled:
            known = await store.get_caller(self.phone)
            calls_before = known.calls if known else 0
            self.caller_name = known.name if known else None
        hook = self.app.definition.hooks.get(self.spec.identity.lookup or "")
        if self.phone and self.caller_name is None and hook is not None:
            info = await hook(self.phone)
            if info:
                self.caller_name = info.get("name") if isinstance(info, dict) else str(info)
        if self.phone and store is not None and self.spec.memory.enabled:
            await store.upsert_caller(self.phone, self.caller_name)
            await store.count_call(self.phone)
        self._emit(ev.CallerIdentified(phone=self.phone, name=self.caller_name, known=self.caller_name is not None or known is not None, calls_before=calls_before))
        if not self.caller_name:
            return self.spec.greeting
        values = {"name": self.caller_name}
        greeting = fill(self.spec.greeting_known or self.app.replies["welcome_back"] + " " + self.spec.greeting, values)
        if store is not None and self.phone and self.spec.memory.enabled:
            issues = await store.open_issues(self.phone)
            if issues:
                self.recall_issue = issues[-1]
                day = self.recall_issue.opened_at.astimezone(UTC).strftime("%A")
                if self.recall_issue.opened_at.date() == self.app.services.now().date():
                    day = "earlier today"
                greeting += " " + fill(self.app.replies["recall"], {"topic": self.recall_issue.text, "day": day})
                self.waiting = Waiting("recall")
        return greeting

    async def aclose(self) -> None:
        """Remember this call: a summary, and an open issue for anything that follows up."""
        store = self.app.services.store
        if store is None or not self.phone or self.forgotten or not self.spec.memory.enabled:
            return
        summary = "; ".join(self.done) or "called without a request"
        with anyio.CancelScope(shield=True):
            await store.add_summary(self.phone, self.context.call_id if self.context else "", summary, self.app.services.now())
            self._emit(ev.MemoryUpdated(action="summary", detail=summary))
            for topic, ref in self.follow_ups:
                import json

                await store.open_issue(self.phone, topic, json.dumps(ref))
                self._emit(ev.MemoryUpdated(action="issue_opened", detail=topic))

    def _emit(self, event: ev.Event) -> None:
        if self.context is not None and self.context.emit is not None:
            self.context.emit(event)

    # ------------------------------------------------------------------ one turn
    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        self.context = context
        if turn.source == "greeting":
            return
        escalate = False
        if self.spec.emotion.enabled and turn.source != "web":
            decision = await self._feel(turn)
            yield Style(VoiceStyle(rate=self.spec.voice.rate * decision.rate, pitch=self.spec.voice.pitch * decision.pitch))
            escalate = decision.escalate and not self.escalated
            if decision.prefix and not escalate:
                yield Say(decision.prefix + " ")
        for outcome in self.runner.late:
            yield Say(self._late_line(outcome) + " ")
        self.runner.late.clear()
        if escalate:
            async for act in self._escalate(turn, "the caller is upset or in distress"):
                yield act
            return
        if turn.source == "web":
            async for act in self._web_value(turn):
                yield act
            return
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            async for act in self._answer(waiting, turn):
                yield act
            return
        async for act in self._understand(turn):
            yield act

    async def _feel(self, turn: Turn) -> Any:
        estimate = self.tracker.estimate(turn.text, turn.audio, turn.sample_rate)
        self._emit(
            ev.EmotionEstimated(
                turn=turn.index, label=estimate.label, valence=round(estimate.valence, 3), arousal=round(estimate.arousal, 3),
                words=round(estimate.words, 3), prosody={k: round(v, 3) for k, v in estimate.prosody.items()},
            )
        )
        decision = self.policy.choose(estimate)
        self._emit(ev.StyleChosen(turn=turn.index, style=decision.style, rate=decision.rate, pitch=decision.pitch, reason=decision.reason))
        return decision

    def _late_line(self, outcome: Outcome) -> str:
        intent = next((i for i in self.spec.intents if i.tool == outcome.name), None)
        if intent is not None and intent.reply:
            return fill(intent.reply, {"result": outcome.result, **(self.task.slots if self.task else {})})
        return self.app.replies["late_result"]

    # ------------------------------------------------------------------ new requests
    async def _understand(self, turn: Turn) -> AsyncIterator[Act]:
        match = await anyio.to_thread.run_sync(self.app.matcher.best, turn.text)
        if match is not None and match.score < STRONG_MATCH and self.app.knowledge is not None and match.intent != OUT_OF_SCOPE:
            # A weak intent match may be a question the documents answer ("is there a minimum order?").
            answer = await anyio.to_thread.run_sync(self.app.knowledge.search, turn.text)
            if answer.confident:
                match = None
        if match is not None:
            self._emit(ev.IntentRecognized(turn=turn.index, name=match.intent, score=match.score))
        if match is None or match.intent == OUT_OF_SCOPE:
            async for act in self._knowledge_or_scope(turn, out_of_scope=match is not None):
                yield act
            return
        intent = next(i for i in self.spec.intents if i.name == match.intent)
        async for act in self._start(intent, turn):
            yield act

    async def _start(self, intent: IntentSpec, turn: Turn, slots: dict[str, Any] | None = None) -> AsyncIterator[Act]:
        if intent.action is not None:
            async for act in self._builtin(intent, turn):
                yield act
            return
        found = slots if slots is not None else extract_slots(intent, turn.text, self.app.matcher, now=self.app.services.now(), region=self.spec.identity.region)
        form = FormState(intent.form, self.spec.forms[intent.form]) if intent.form else None
        self.task = Task(intent, {k: str(v) for k, v in found.items()}, form)
        async for act in self._advance(turn):
            yield act

    async def _builtin(self, intent: IntentSpec, turn: Turn) -> AsyncIterator[Act]:
        if intent.action in ("transfer", "book_human"):
            async for act in self._escalate(turn, f"the caller asked ({intent.name})", booking=intent.action == "book_human"):
                yield act
        elif intent.action == "forget_me":
            yield Say(self.app.replies["forget_confirm"])
            self.waiting = Waiting("forget_confirm")
        elif intent.action == "goodbye":
            yield Say(fill(intent.reply or self.app.replies["goodbye"], {"name": self.caller_name or ""}))
            yield Hangup("goodbye")
        elif intent.action == "knowledge":
            async for act in self._knowledge_or_scope(turn, out_of_scope=False):
                yield act

    async def _knowledge_or_scope(self, turn: Turn, *, out_of_scope: bool) -> AsyncIterator[Act]:
        knowledge = self.app.knowledge
        if not out_of_scope and knowledge is not None:
            answer = await anyio.to_thread.run_sync(knowledge.search, turn.text)
            self._emit(ev.KnowledgeCited(turn=turn.index, query=turn.text, confident=answer.confident, passages=answer.cite()))
            if answer.confident:
                yield Say(knowledge.best_sentences(answer) + " ")
                self.done.append(f"asked: {turn.text}")
                return
        scope = self.spec.scope
        if out_of_scope and scope.action == "escalate":
            yield Say(scope.reply + " ")
            async for act in self._escalate(turn, "out of scope"):
                yield act
            return
        yield Say((scope.reply if out_of_scope else self.app.replies["dont_know"]) + " ")
        if self._can_escalate():
            yield Say(self.spec.escalation.offer)
            self.waiting = Waiting("offer_escalation")

    # ------------------------------------------------------------------ carrying out an intent
    async def _advance(self, turn: Turn) -> AsyncIterator[Act]:
        """Ask for the next missing thing, or do the task."""
        task = self.task
        if task is None:
            return
        intent = task.intent
        for name, kind in intent.slots.items():
            if name not in task.slots:
                yield Say(intent.ask.get(name, f"What's the {name.replace('_', ' ')}?"))
                if kind in ("phone", "number", "address", "email", "money"):
                    yield Listen(PATIENCE, f"{intent.name}.{name}")
                self.waiting = Waiting("slot", name)
                return
        if task.form is not None:
            missing = task.form.missing()
            if missing is not None:
                async for act in self._ask_field(task.form, missing.name, turn):
                    yield act
                return
        if intent.confirm and not task.confirmed:
            yield Say(fill(intent.confirm, self._values(task)))
            self.waiting = Waiting("action_confirm")
            return
        async for act in self._execute(task, turn):
            yield act

    async def _ask_field(self, form: FormState, name: str, turn: Turn, retry: bool = False) -> AsyncIterator[Act]:
        spec = form.field(name)
        if spec.other_modality or form.tries.get(name, 0) >= spec.max_tries:
            async for act in self._send_link(form, name):
                yield act
            return
        self._emit(ev.FormField(form=form.name, field=name, status="asked", tries=form.tries.get(name, 0)))
        yield Say(((self.app.replies["retry"] + " ") if retry else "") + spec.prompt)
        if wants_patience(spec):
            yield Listen(PATIENCE, f"{form.name}.{name}")
        self.waiting = Waiting("field", name)

    async def _send_link(self, form: FormState, name: str) -> AsyncIterator[Act]:
        spec = form.field(name)
        label = spec.label or name.replace("_", " ")
        services = self.app.services
        if not self.phone or services.links is None or services.notifier is None or self.context is None:
            self._emit(ev.FormField(form=form.name, field=name, status="failed", tries=form.tries.get(name, 0)))
            yield Say(fill(self.app.replies["link_no_phone"], {"label": label}) + " ")
            self.task = None
            if self._can_escalate():
                yield Say(self.spec.escalation.offer)
                self.waiting = Waiting("offer_escalation")
            return
        token = services.links.make(self.context.call_id, form.name, name, spec.type, label)
        url = f"{services.public_url.rstrip('/')}/f/{token}"
        body = f"{self.spec.description or self.spec.name}: please enter your {label} here: {url}"
        message = await services.notifier.send_sms(self.phone, body, dedupe_key=f"link:{self.context.call_id}:{form.name}:{name}", purpose="form_link")
        form.linked.add(name)
        if self.task is not None:
            self.link_tasks[(form.name, name)] = self.task  # the value may arrive after other talk
        self._emit(ev.MessageSent(message_id=message.id, to=self.phone, body=body, purpose="form_link"))
        self._emit(ev.FormField(form=form.name, field=name, status="link_sent", tries=form.tries.get(name, 0)))
        yield Say(fill(self.app.replies["link_sent"], {"label": label}))

    async def _web_value(self, turn: Turn) -> AsyncIterator[Act]:
        form_name, name, value = turn.data.get("form"), turn.data.get("field"), turn.data.get("value", turn.text)
        task = self.link_tasks.pop((str(form_name), str(name)), None)
        if task is None or task.form is None:
            return  # a late or foreign link: nothing waits for it
        self.task = task  # back to the task the link was sent for, even if the caller talked about other things
        spec = task.form.field(str(name))
        parsed = parse_value(spec.type, str(value), now=self.app.services.now(), choices=spec.choices, region=self.spec.identity.region)
        task.form.values[spec.name] = parsed.text if parsed is not None else str(value).strip()
        self._emit(ev.FormField(form=task.form.name, field=spec.name, status="link_filled", value=task.form.values[spec.name]))
        self.waiting = None
        yield Say(fill(self.app.replies["link_filled"], {"label": spec.label or spec.name.replace("_", " ")}) + " ")
        async for act in self._advance(turn):
            yield act

    async def _execute(self, task: Task, turn: Turn) -> AsyncIterator[Act]:
        intent = task.intent
        values = self._values(task)
        if intent.tool is None:
            if intent.reply:
                yield Say(fill(intent.reply, values))
            self._finish(task, values)
            if intent.hangup:
                yield Hangup("goodbye")
            return
        tool = self.app.definition.tools[intent.tool]
        arguments = _arguments(tool, values)
        if tool.options.background:
            async for act in self._background(tool, arguments, task, turn):
                yield act
            return
        assert self.context is not None
        outcome: Outcome | None = None
        async for item in self.runner.run(tool, arguments, turn=turn.index, context=self.context):
            if isinstance(item, Outcome):
                outcome = item
            else:
                yield item
        assert outcome is not None
        if outcome.status == "ok":
            values["result"] = outcome.result
            yield Say(fill(intent.reply, values) if intent.reply else self.app.replies["anything_else"])
            if intent.sms:
                await self._text(fill(intent.sms, values), f"sms:{idempotency_key(self.context.call_id, tool.name, arguments)}", intent.name)
            self._finish(task, values)
        else:
            line = tool.options.timeout_reply or self.app.replies["tool_timeout"] if outcome.status == "timeout" else intent.error_reply or self.app.replies["tool_error"]
            yield Say(line)
            self.task = None
        if intent.hangup:
            yield Hangup("goodbye")

    async def _background(self, tool: AgentTool, arguments: dict[str, Any], task: Task, turn: Turn) -> AsyncIterator[Act]:
        jobs = self.app.services.jobs
        assert self.context is not None
        key = idempotency_key(self.context.call_id, tool.name, arguments)
        call = f"{turn.index}.job"
        if jobs is None:  # no queue configured: do it now, on the call
            async for act in self._foreground(tool, arguments, task, turn):
                yield act
            return
        self._emit(ev.ToolCalled(turn=turn.index, call=call, name=tool.name, arguments=arguments, idempotency_key=key, background=True))
        payload = {"agent": str(self.app.definition.folder), "tool": tool.name, "arguments": arguments, "key": key, "call_id": self.context.call_id, "caller": self.phone}
        job_id = await jobs.submit(f"{self.name}.{tool.name}", payload, job_id=key, phone=self.phone)
        self._emit(ev.JobQueued(job_id=job_id, name=tool.name, notify=self.phone))
        self._emit(ev.ToolResult(turn=turn.index, call=call, name=tool.name, status="queued", result={"job_id": job_id}))
        yield Say(self.app.replies["background" if self.phone else "background_no_phone"])
        values = self._values(task)
        values["result"] = {"job_id": job_id}
        self._finish(task, values)

    async def _foreground(self, tool: AgentTool, arguments: dict[str, Any], task: Task, turn: Turn) -> AsyncIterator[Act]:
        assert self.context is not None
        async for item in self.runner.run(tool, arguments, turn=turn.index, context=self.context):
            if not isinstance(item, Outcome):
                yield item
            elif item.status == "ok":
                yield Say(str(item.result) if isinstance(item.result, str) else self.app.replies["anything_else"])
                self._finish(task, self._values(task))
            else:
                yield Say(self.app.replies["tool_error"])

    async def _text(self, body: str, dedupe_key: str, purpose: str) -> None:
        notifier = self.app.services.notifier
        if notifier is None or not self.phone:
            return
        message = await notifier.send_sms(self.phone, body, dedupe_key=dedupe_key, purpose=purpose)
        self._emit(ev.MessageSent(message_id=message.id, to=self.phone, body=body, purpose=purpose))

    def _finish(self, task: Task, values: dict[str, Any]) -> None:
        intent = task.intent
        topic = fill(intent.summary, values) if intent.summary else intent.name.replace("_", " ")
        self.done.append(topic)
        if intent.follow_up:
            self.follow_ups.append((topic, {"intent": intent.follow_up, "slots": _plain(values)}))
        self.task = None

    def _values(self, task: Task) -> dict[str, Any]:
        values: dict[str, Any] = {"name": self.caller_name or "", "phone": self.phone or "", **task.slots}
        if task.form is not None:
            values.update(task.form.values)
        return values

    # ------------------------------------------------------------------ answers to what we asked
    async def _answer(self, waiting: Waiting, turn: Turn) -> AsyncIterator[Act]:
        now = self.app.services.now()
        region = self.spec.identity.region
        yes = parse_value("yes_no", turn.text, now=now)
        if waiting.kind in ("slot", "field") or (yes is None and waiting.kind not in ("recall", "offer_escalation")):
            escape = await anyio.to_thread.run_sync(self.app.matcher.best, turn.text)
            intent = next((i for i in self.spec.intents if escape and i.name == escape.intent), None)
            if intent is not None and intent.action in ("goodbye", "transfer", "book_human", "forget_me") and escape and escape.score > 0.7:
                async for act in self._start(intent, turn):
                    yield act
                return
        task = self.task
        if waiting.kind == "slot" and task is not None:
            kind = task.intent.slots[waiting.name]
            if kind == "text":
                task.slots[waiting.name] = turn.text.strip().rstrip(".?!")
            else:
                parsed = parse_value(kind, turn.text, now=now, region=region)
                if parsed is None:
                    yield Say(self.app.replies["retry"] + " " + task.intent.ask.get(waiting.name, f"What's the {waiting.name}?"))
                    self.waiting = waiting
                    return
                task.slots[waiting.name] = parsed.text
            async for act in self._advance(turn):
                yield act
        elif waiting.kind == "field" and task is not None and task.form is not None:
            spec = task.form.field(waiting.name)
            parsed = parse_answer(spec, turn.text, now=now, region=region)
            verdict = judge(spec, parsed, turn.confidence)
            if verdict == "retry" or parsed is None:
                task.form.failed(spec.name)
                self._emit(ev.FormField(form=task.form.name, field=spec.name, status="rejected", tries=task.form.tries[spec.name]))
                async for act in self._ask_field(task.form, spec.name, turn, retry=True):
                    yield act
            elif verdict == "confirm":
                self._emit(ev.FormField(form=task.form.name, field=spec.name, status="confirm", value=parsed.text, confidence=turn.confidence))
                yield Say(fill(self.app.replies["confirm_value"], {"value": parsed.spoken}))
                self.waiting = Waiting("field_confirm", spec.name, parsed.text, parsed.spoken)
            else:
                task.form.values[spec.name] = parsed.text
                self._emit(ev.FormField(form=task.form.name, field=spec.name, status="filled", value=parsed.text, confidence=turn.confidence))
                async for act in self._advance(turn):
                    yield act
        elif waiting.kind == "field_confirm" and task is not None and task.form is not None:
            if yes is not None and yes.value is True and waiting.value is not None:
                task.form.values[waiting.name] = waiting.value
                self._emit(ev.FormField(form=task.form.name, field=waiting.name, status="confirmed", value=waiting.value))
                async for act in self._advance(turn):
                    yield act
                return
            task.form.failed(waiting.name)
            self._emit(ev.FormField(form=task.form.name, field=waiting.name, status="rejected", value=waiting.value, tries=task.form.tries[waiting.name]))
            spec = task.form.field(waiting.name)
            # "no, it's twelve Oak Street": take the correction and read it back, unless the tries are
            # used up: then the link goes out (an address parses from almost any words).
            out_of_tries = task.form.tries[waiting.name] >= spec.max_tries
            correction = parse_answer(spec, turn.text, now=now, region=region) if yes is None and not out_of_tries else None
            if correction is not None:
                yield Say(fill(self.app.replies["confirm_value"], {"value": correction.spoken}))
                self.waiting = Waiting("field_confirm", spec.name, correction.text, correction.spoken)
                return
            async for act in self._ask_field(task.form, waiting.name, turn):
                yield act
        elif waiting.kind == "action_confirm" and task is not None:
            if yes is not None and yes.value is True:
                task.confirmed = True
                async for act in self._advance(turn):
                    yield act
            else:
                self.task = None
                yield Say(self.app.replies["cancelled"])
        elif waiting.kind == "forget_confirm":
            if yes is not None and yes.value is True:
                deleted = 0
                if self.app.services.store is not None and self.phone:
                    deleted = await self.app.services.store.forget(self.phone)
                self.forgotten = True
                self._emit(ev.MemoryUpdated(action="forgotten", detail=f"{deleted} records deleted"))
                yield Say(self.app.replies["forgotten"])
            else:
                yield Say(self.app.replies["not_forgotten"])
        elif waiting.kind == "recall":
            issue = self.recall_issue
            if yes is not None and yes.value is True and issue is not None:
                import json

                ref = json.loads(issue.ref or "{}")
                intent = next((i for i in self.spec.intents if i.name == ref.get("intent")), None)
                if self.app.services.store is not None:
                    await self.app.services.store.close_issue(issue.id)
                    self._emit(ev.MemoryUpdated(action="issue_closed", detail=issue.text))
                if intent is not None:
                    async for act in self._start(intent, turn, slots=ref.get("slots", {})):
                        yield act
                    return
                yield Say(self.app.replies["recall_no"])
            elif yes is not None:
                yield Say(self.app.replies["recall_no"])
            else:
                async for act in self._understand(turn):
                    yield act
        elif waiting.kind == "offer_escalation":
            if yes is not None and yes.value is True:
                async for act in self._escalate(turn, "the agent could not help"):
                    yield act
            elif yes is not None:
                yield Say(self.app.replies["anything_else"])
            else:
                async for act in self._understand(turn):
                    yield act

    # ------------------------------------------------------------------ escalation
    def _can_escalate(self) -> bool:
        e = self.spec.escalation
        return bool(e.transfer_to or e.booking_tool)

    async def _escalate(self, turn: Turn, reason: str, booking: bool | None = None) -> AsyncIterator[Act]:
        e = self.spec.escalation
        self.escalated = True
        use_booking = booking if booking is not None else (e.booking_tool is not None and not e.transfer_to)
        if use_booking and e.booking_tool:
            intent = IntentSpec(
                name="book_human", examples=["book a call"], form=e.booking_form, confirm=None, tool=e.booking_tool,
                reply=e.booking_reply, sms=e.booking_sms, summary="a callback booked with a person",
            )
            self._emit(ev.Transfer(to=e.booking_tool, reason=reason, mode="booking"))
            async for act in self._start(intent, turn, slots={}):
                yield act
            return
        if e.transfer_to:
            self.done.append(f"transferred to a person ({reason})")
            yield Say(e.transfer_reply)
            yield TransferCall(e.transfer_to, reason)
            return
        yield Say(self.app.replies["no_escalation"])


def _arguments(tool: AgentTool, values: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameters taken from slots and form values, converted to the declared JSON types."""
    props = tool.spec.parameters.get("properties", {})
    args: dict[str, Any] = {}
    for name, schema in props.items():
        if name not in values or values[name] in (None, ""):
            continue
        value = values[name]
        kind = schema.get("type")
        try:
            if kind == "integer":
                value = int(float(str(value)))
            elif kind == "number":
                value = float(str(value))
            elif kind == "boolean":
                value = str(value).lower() in ("true", "yes", "1")
            else:
                value = str(value)
        except ValueError:
            value = str(value)
        args[name] = value
    return args


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool))}
