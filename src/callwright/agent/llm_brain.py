"""The LLM brain: new requests understood and worded by a language model (any OpenAI-compatible one).

Only new requests reach the model. Safety (red flags, "a person, please"), scope, misheard turns
and the answers to what the agent asked (read-backs, confirmations) are decided in code before it
is asked, so a model cannot answer what its agent declares out of scope or talk its way past an
escalation. What the model does, it does through the dialogue:

* the agent's tools: read-only ones run at once (filler, timeout, one ``tool.result``); a tool with
  side effects or a background job is never run from the model's call: the caller is asked to
  confirm in code first, and the dialogue runs it on a yes;
* built-in functions: ``set_form_field`` (values parsed and read back by the same code as the
  embedded brain's), ``search_knowledge`` (passages with their warnings; any warning the model
  leaves out of its answer is said after it), ``transfer_to_human`` and ``forget_caller``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..engines.base import LanguageModel, Message, ToolSpec
from .articles import article
from .base import Act, Listen, Say, Turn
from .forms import PATIENCE, FormState, judge, wants_patience
from .llm import VOICE_RULES, answer, told, tool_rounds
from .replies import fill
from .spec import IntentSpec
from .state import Question, Task

if TYPE_CHECKING:
    from .app import AgentApp
    from .dialogue import Dialogue
    from .state import Reading

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
        "Search the curated documents. Answer only from the passages returned, and always repeat their safety "
        "advice; if none fit, say you don't know.",
        {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
    ),
    ToolSpec(
        "transfer_to_human",
        "Hand the call to a person (or book a callback) when the caller asks or is very upset.",
        {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
    ),
    ToolSpec("forget_caller", "Delete everything remembered about the caller. Only after they confirmed they want it.", {"type": "object", "properties": {}}),
]
FORM_TASK = "llm_form_"  # intents made for a form the model fills
STYLE_NOTES = {  # how to word replies for the caller's mood (the style the agent chose this turn)
    "calm": "The caller sounds upset: be calm, brief and concrete. No jokes, no exclamation marks.",
    "warm": "The caller sounds worried: be warm and reassuring, and explain the next step simply.",
    "upbeat": "The caller is in a good mood: be friendly and upbeat.",
}


class LlmBrain:
    max_tool_rounds = 3
    first_tool_choice: str | None = None  # force a function on a turn's first request (tests of the plumbing)

    def __init__(self, app: AgentApp, llm: LanguageModel) -> None:
        self.app = app
        self.llm = llm
        self.forms: dict[str, FormState] = {}

    def system_prompt(self, dialogue: Dialogue) -> str:
        spec = self.app.spec
        now = dialogue.now()
        parts = [spec.persona.strip(), VOICE_RULES, f"It is now {now:%A, %B %-d, %Y, %H:%M} ({spec.timezone})."]
        if spec.scope.does:
            parts.append(f"You only help with: {', '.join(spec.scope.does)}.")
        for name, form in spec.forms.items():
            fields = ", ".join(f"{f.name} ({f.type})" for f in form.fields)
            parts.append(f"Form '{name}' collects: {fields}. Ask for one field at a time and record each with set_form_field.")
        parts.extend(dialogue.memory.context_lines())
        if dialogue.memory.done:
            parts.append(f"Earlier in this call: {'; '.join(dialogue.memory.done)}.")
        if dialogue.style in STYLE_NOTES:
            parts.append(STYLE_NOTES[dialogue.style])
        if dialogue.note:
            parts.append(dialogue.note)
            dialogue.note = ""
        return "\n\n".join(parts)

    async def respond(self, turn: Turn, reading: Reading, dialogue: Dialogue) -> AsyncIterator[Act]:
        assert dialogue.context is not None
        messages: list[Message] = [Message("system", self.system_prompt(dialogue)), *dialogue.context.messages]
        tools = [t.spec for t in self.app.definition.tools.values()] + BUILTINS
        by_name = self.app.definition.tools
        said: list[str] = []
        warnings: list[str] = []
        rounds = tool_rounds(
            self.llm, messages, tools, max_rounds=self.max_tool_rounds, first_choice=self.first_tool_choice, emit=dialogue.emit
        )
        async with aclosing(rounds):
            async for call in rounds:
                if isinstance(call, Say):  # the model's words
                    said.append(call.text)
                    yield call
                    continue
                result: Any
                if call.name in by_name:
                    tool = by_name[call.name]
                    arguments = {k: v for k, v in call.arguments.items() if k in tool.parameters}
                    if tool.options.side_effects or tool.options.background:
                        # A purchase or a booking is confirmed in code, with the caller, before it runs.
                        yield self._confirm_first(tool.name, arguments, dialogue)
                        return
                    outcome = None
                    async for step in dialogue.run_tool(tool, arguments, turn):
                        if isinstance(step, Say):
                            yield step  # the filler, the tool's progress
                        else:
                            outcome = step
                    assert outcome is not None
                    result = told(outcome)
                    if outcome.status == "ok":
                        dialogue.memory.done.append(f"used {tool.name}")
                elif call.name == "set_form_field":
                    result = {}
                    async for act in self._set_field(call.arguments, turn, result, dialogue):
                        yield act
                    if result.get("link_sent") or result.get("confirm"):
                        return  # we said what comes next
                elif call.name == "search_knowledge":
                    result = await self._search(str(call.arguments.get("question", turn.text)), turn, dialogue, warnings)
                elif call.name == "transfer_to_human":
                    async for act in dialogue.escalate(turn, str(call.arguments.get("reason", "the caller asked"))):
                        yield act
                    return
                else:  # forget_caller (tool_rounds answers calls of functions not offered)
                    yield dialogue.ask(Question("forget", dialogue.replies["forget_confirm"]))
                    return
                messages.append(answer(call, result))
        spoken = " ".join(said).lower()
        left_out = [w for w in dict.fromkeys(warnings) if not _covers(spoken, w)]
        if left_out:  # the documents' safety advice is said, whatever the model chose to say
            yield Say(" " + " ".join(left_out))

    def _confirm_first(self, name: str, arguments: dict[str, Any], dialogue: Dialogue) -> Say:
        intent = next((i for i in self.app.spec.intents if i.tool == name), None) or _adhoc(name)
        form = self.forms.get(intent.form) if intent.form else None
        task = Task(intent, {k: str(v) for k, v in arguments.items() if k in intent.slots or not intent.slots}, form)
        if form is None and intent.form:
            task.form = FormState(intent.form, self.app.spec.forms[intent.form])
            for key, value in arguments.items():
                if key in {f.name for f in task.form.spec.fields}:
                    task.form.values[key] = str(value)
        dialogue.task = task
        question = fill(intent.confirm, dialogue.values(task)) if intent.confirm else None
        if not question:
            details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in arguments.items())
            question = f"Just to confirm: {name.replace('_', ' ')} with {details}. Shall I go ahead?"
        return dialogue.ask(Question("confirm", question))

    async def _search(self, question: str, turn: Turn, dialogue: Dialogue, warnings: list[str]) -> dict[str, Any]:
        knowledge = self.app.knowledge
        if knowledge is None:
            return {"passages": [], "note": "no documents: say you don't know"}
        answer = await knowledge.asearch(question)
        dialogue.emit(ev.KnowledgeCited(turn=turn.index, query=question, confident=answer.confident, passages=answer.cite()))
        if not answer.confident:
            return {"passages": [], "note": "nothing relevant: say you don't know and offer a person"}
        top = answer.hits[0].passage
        warnings.extend(top.warnings)
        return {
            "passages": [{"source": h.passage.doc, "text": h.passage.text} for h in answer.hits[:2]],
            "safety_advice": list(top.warnings),
        }

    async def _set_field(self, arguments: dict[str, Any], turn: Turn, result: dict[str, Any], dialogue: Dialogue) -> AsyncIterator[Act]:
        from .values import parse_value

        spec_forms = self.app.spec.forms
        form_name = str(arguments.get("form", ""))
        if form_name not in spec_forms:
            result["error"] = f"no form {form_name!r}; forms: {', '.join(spec_forms)}"
            return
        form = self.forms.setdefault(form_name, FormState(form_name, spec_forms[form_name]))
        field_name = str(arguments.get("field", ""))
        if field_name not in {f.name for f in form.spec.fields}:
            result["error"] = f"form {form_name!r} has no field {field_name!r}"
            return
        spec = form.field(field_name)
        parsed = parse_value(spec.type, str(arguments.get("value", "")), now=dialogue.now(), choices=spec.choices, region=self.app.spec.identity.region)
        verdict = judge(spec, parsed, turn.confidence)
        if verdict == "retry" or parsed is None:
            tries = form.failed(field_name)
            dialogue.emit(ev.FormField(form=form_name, field=field_name, status="rejected", tries=tries))
            if tries >= spec.max_tries or spec.other_modality:
                dialogue.task = Task(_adhoc(form_name, form=form_name), form=form, hand_back=True)
                async for act in dialogue.send_link(form, field_name):
                    yield act
                result["link_sent"] = True
                return
            result.update(ok=False, error=f"could not read {article(spec.type)} {spec.type} from that; ask again: {spec.prompt}")
            if wants_patience(spec):
                yield Listen(PATIENCE, f"{form_name}.{field_name}")
            return
        if verdict == "confirm":
            task = Task(_adhoc(form_name, form=form_name), form=form, hand_back=True)
            task.pending[field_name] = parsed
            dialogue.task = task
            async for act in dialogue.advance(turn):  # reads the value back
                yield act
            result["confirm"] = True
            return
        form.values[field_name] = parsed.text
        dialogue.emit(ev.FormField(form=form_name, field=field_name, status="filled", value=parsed.text, confidence=turn.confidence))
        missing = form.missing()
        result.update(ok=True, value=parsed.text, next=missing.prompt if missing else None)


def _adhoc(name: str, form: str | None = None) -> IntentSpec:
    slug = re.sub(r"[^a-z0-9_]", "_", name.lower()) or "task"
    return IntentSpec(name=f"{FORM_TASK}{slug}" if form else slug, examples=[name], form=form)


_KEY = re.compile(r"call (?:your |the )?[a-z ]{3,30}?(?:now|straight away|right away)|emergency services|\b(?:911|999|112)\b")


def _covers(spoken: str, warning: str) -> bool:
    """Whether the model's words already carry a warning's advice ("call your care team now")."""
    keys = _KEY.findall(warning.lower())
    return bool(keys) and all(k in spoken for k in keys)
