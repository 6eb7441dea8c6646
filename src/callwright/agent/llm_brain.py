"""The same agent definition with a language model as its brain.

Everything around the brain is shared with the embedded one (:class:`SpecAgent`): caller identity
and memory, emotion and voice style, tools run with fillers, timeouts and idempotency keys,
background jobs with SMS, form links, escalation. What changes is understanding and wording: the
model reads the conversation and decides, through function calling, which tool to use. Forms,
knowledge, escalation and "forget me" are offered to it as built-in functions, so the rules that
keep a call safe (confirm what was heard, never improvise out of scope) run in our code, not in
the prompt.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .. import events as ev
from ..engines.base import Message, ToolCallRequest, ToolSpec
from .base import Act, Listen, Say, Turn
from .forms import PATIENCE, FormState, judge, parse_answer, wants_patience
from .llm import VOICE_RULES, model_round, round_choice
from .runtime import AgentApp, SpecAgent, Task, Waiting, fill
from .tools import Outcome

BUILTINS = [
    ToolSpec(
        "set_form_field",
        "Record a value the caller gave for a form field. Returns whether it was understood and what to ask next.",
        {
            "type": "object",
            "properties": {"form": {"type": "string"}, "field": {"type": "string"}, "value": {"type": "string"}},
            "required": ["form", "field", "value"],
        },
    ),
    ToolSpec(
        "search_knowledge",
        "Search the curated documents. Answer only from the passages returned; if none fit, say you don't know.",
        {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
    ),
    ToolSpec(
        "transfer_to_human",
        "Hand the call to a person (or book a callback) when the caller asks, is very upset, or the request is out of scope.",
        {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
    ),
    ToolSpec("forget_caller", "Delete everything remembered about the caller. Only after they confirmed they want it.", {"type": "object", "properties": {}}),
]


class LlmSpecAgent(SpecAgent):
    """A :class:`SpecAgent` whose understanding and replies come from an OpenAI-compatible model."""

    max_tool_rounds = 3
    first_tool_choice: str | None = None  # force a function on a turn's first request (tests of the plumbing)

    def __init__(self, app: AgentApp) -> None:
        super().__init__(app)
        assert app.services.llm is not None
        self.llm = app.services.llm
        self.style_note = ""
        self.model_note = ""  # one-off context for the next request (what the caller just confirmed)
        self.forms: dict[str, FormState] = {}

    async def aclose(self) -> None:
        await super().aclose()

    def _system(self) -> str:
        spec = self.spec
        parts = [spec.persona.strip(), VOICE_RULES]
        if spec.scope.does:
            parts.append(f"You only help with: {', '.join(spec.scope.does)}. For anything else say: \"{spec.scope.reply}\"")
        for name, form in spec.forms.items():
            fields = ", ".join(f"{f.name} ({f.type})" for f in form.fields)
            parts.append(f"Form '{name}' collects: {fields}. Ask for one field at a time and record each with set_form_field.")
        if self.caller_name:
            parts.append(f"The caller is {self.caller_name}; never ask them to spell their name.")
        if self.done:
            parts.append(f"Earlier in this call: {'; '.join(self.done)}.")
        if self.style_note:
            parts.append(self.style_note)
        if self.model_note:
            parts.append(self.model_note)
            self.model_note = ""
        return "\n\n".join(parts)

    async def _understand(self, turn: Turn) -> AsyncIterator[Act]:
        async for act in self._converse(turn):
            yield act

    async def _answer(self, waiting: Waiting, turn: Turn) -> AsyncIterator[Act]:
        if waiting.kind in ("field_confirm", "forget_confirm", "action_confirm", "recall"):
            said = False
            async for act in super()._answer(waiting, turn):  # confirmations stay deterministic
                said = said or isinstance(act, Say)
                yield act
            if waiting.kind == "field_confirm" and self.waiting is None and not said:
                # The value is kept; the model goes on from there (the next field, or the task).
                self.model_note = f"The caller confirmed {waiting.name}: {waiting.value}."
                async for act in self._converse(turn):
                    yield act
            return
        async for act in self._converse(turn):
            yield act

    async def _confirm_first(self, name: str, arguments: dict[str, Any]) -> AsyncIterator[Act]:
        intent = next((i for i in self.spec.intents if i.tool == name), None) or _adhoc(name)
        form = self.forms.get(intent.form) if intent.form else None
        task = Task(intent, {k: str(v) for k, v in arguments.items()}, form)
        self.task = task
        question = fill(intent.confirm, self._values(task)) if intent.confirm else None
        if not question:
            details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in arguments.items())
            question = f"Just to confirm: {name.replace('_', ' ')} with {details}. Shall I go ahead?"
        yield Say(question)
        self.waiting = Waiting("action_confirm")

    async def _feel(self, turn: Turn) -> Any:
        decision = await super()._feel(turn)
        notes = {
            "calm": "The caller sounds upset: be calm, brief and concrete. No jokes, no exclamation marks.",
            "warm": "The caller sounds worried: be warm and reassuring, and explain the next step simply.",
            "upbeat": "The caller is in a good mood: be friendly and upbeat.",
        }
        self.style_note = notes.get(decision.style, "")
        return decision

    async def _converse(self, turn: Turn) -> AsyncIterator[Act]:
        assert self.context is not None
        messages: list[Message] = [Message("system", self._system()), *self.context.messages]
        tools = [t.spec for t in self.app.definition.tools.values()] + BUILTINS
        by_name = self.app.definition.tools
        for round_ in range(self.max_tool_rounds + 1):
            calls: list[ToolCallRequest] = []
            choice = round_choice(round_, self.max_tool_rounds, self.first_tool_choice)
            async for say in model_round(self.llm, messages, tools, choice, calls):
                yield say
            if not calls:
                return
            messages.append(Message("assistant", "", tool_calls=tuple(calls)))
            for call in calls:
                result: Any
                if call.name in by_name:
                    tool = by_name[call.name]
                    arguments = {k: v for k, v in call.arguments.items() if k in tool.spec.parameters.get("properties", {})}
                    if tool.options.side_effects or tool.options.background:
                        # A purchase or a booking is confirmed in code, with the caller, before it runs.
                        async for act in self._confirm_first(tool.name, arguments):
                            yield act
                        return
                    if tool.options.background:
                        task = Task(next((i for i in self.spec.intents if i.tool == tool.name), _adhoc(tool.name)))
                        async for act in self._background(tool, arguments, task, turn):
                            yield act
                        result = {"status": "queued", "note": "the caller will get an SMS when it is done"}
                    else:
                        outcome: Outcome | None = None
                        async for item in self.runner.run(tool, arguments, turn=turn.index, context=self.context):
                            if isinstance(item, Outcome):
                                outcome = item
                            else:
                                yield item
                        assert outcome is not None
                        result = {"status": outcome.status, "result": outcome.result, "error": outcome.error}
                        if outcome.status == "ok":
                            self.done.append(f"used {tool.name}")
                elif call.name == "set_form_field":
                    result = {}
                    async for act in self._set_field(call.arguments, turn, result):
                        yield act
                    if result.get("link_sent") or result.get("confirm"):
                        return  # we said what comes next
                elif call.name == "search_knowledge":
                    result = await self._search(str(call.arguments.get("question", turn.text)), turn)
                elif call.name == "transfer_to_human":
                    async for act in self._escalate(turn, str(call.arguments.get("reason", "the caller asked"))):
                        yield act
                    return
                elif call.name == "forget_caller":
                    yield Say(self.app.replies["forget_confirm"])
                    self.waiting = Waiting("forget_confirm")
                    return
                else:
                    result = {"error": f"no function named {call.name!r}"}
                messages.append(Message("tool", json.dumps(result, default=str), tool_call_id=call.id, name=call.name))

    async def _search(self, question: str, turn: Turn) -> dict[str, Any]:
        knowledge = self.app.knowledge
        if knowledge is None:
            return {"passages": [], "note": "no documents: say you don't know"}
        answer = await anyio.to_thread.run_sync(knowledge.search, question)
        self._emit(ev.KnowledgeCited(turn=turn.index, query=question, confident=answer.confident, passages=answer.cite()))
        if not answer.confident:
            return {"passages": [], "note": "nothing relevant: say you don't know and offer a person"}
        return {"passages": [{"source": h.passage.doc, "text": h.passage.text} for h in answer.hits[:2]]}

    async def _set_field(self, arguments: dict[str, Any], turn: Turn, result: dict[str, Any]) -> AsyncIterator[Act]:
        form_name = str(arguments.get("form", ""))
        if form_name not in self.spec.forms:
            result["error"] = f"no form {form_name!r}; forms: {', '.join(self.spec.forms)}"
            return
        form = self.forms.setdefault(form_name, FormState(form_name, self.spec.forms[form_name]))
        field_name = str(arguments.get("field", ""))
        if field_name not in {f.name for f in form.spec.fields}:
            result["error"] = f"form {form_name!r} has no field {field_name!r}"
            return
        spec = form.field(field_name)
        parsed = parse_answer(spec, str(arguments.get("value", "")), now=self.app.services.now(), region=self.spec.identity.region)
        verdict = judge(spec, parsed, turn.confidence)
        if verdict == "retry" or parsed is None:
            tries = form.failed(field_name)
            self._emit(ev.FormField(form=form_name, field=field_name, status="rejected", tries=tries))
            if tries >= spec.max_tries or spec.other_modality:
                self.task = Task(_adhoc(form_name, form=form_name), form=form)
                async for act in self._send_link(form, field_name):
                    yield act
                result["link_sent"] = True
                return
            result.update(ok=False, error=f"could not read a {spec.type} from that; ask again: {spec.prompt}")
            if wants_patience(spec):
                yield Listen(PATIENCE, f"{form_name}.{field_name}")
            return
        if verdict == "confirm":
            self.task = Task(_adhoc(form_name, form=form_name), form=form)
            self._emit(ev.FormField(form=form_name, field=field_name, status="confirm", value=parsed.text, confidence=turn.confidence))
            yield Say(fill(self.app.replies["confirm_value"], {"value": parsed.spoken}))
            self.waiting = Waiting("field_confirm", field_name, parsed.text, parsed.spoken)
            result["confirm"] = True
            return
        form.values[field_name] = parsed.text
        self._emit(ev.FormField(form=form_name, field=field_name, status="filled", value=parsed.text, confidence=turn.confidence))
        missing = form.missing()
        result.update(ok=True, value=parsed.text, next=missing.prompt if missing else None)


def _adhoc(name: str, form: str | None = None) -> Any:
    from .spec import IntentSpec

    return IntentSpec(name="_".join(name.lower().split("-")) or "task", examples=[name], form=form)
