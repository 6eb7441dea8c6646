"""An agent definition: a folder with ``agent.yaml`` and a Python module of tools.

``load_definition(folder)`` validates the whole definition up front and raises
:class:`~callwright.errors.ConfigError` naming the file, the line, the field, what is wrong and,
where it can guess, what was meant::

    examples/agents/order-desk/agent.yaml:41: field 'intents[2].slots.order_number': 'nmber' is not
    one of phone, date, ...; did you mean 'number'?

The schema is documented field by field in ``docs/agents.md``.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from .tools import AgentTool

FieldKind = Literal["phone", "date", "time", "datetime", "number", "money", "email", "address", "choice", "yes_no", "text"]
PATIENT_KINDS = frozenset({"phone", "number", "address", "email", "money"})  # read out slowly, with pauses


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoiceSpec(_Spec):
    """The agent's own voice. ``rate`` and ``pitch`` multiply the engine's defaults; styles adjust from here."""

    tts: str | None = None
    rate: float = Field(default=1.0, gt=0.4, lt=2.5)
    pitch: float = Field(default=1.0, gt=0.4, lt=2.5)


class FieldSpec(_Spec):
    """One typed value a form collects."""

    name: str
    type: FieldKind
    prompt: str
    label: str | None = None  # on the web form; defaults to the name
    choices: list[str] = Field(default_factory=list)
    high_stakes: bool = False  # always read back and confirm
    confirm_below: float = Field(default=0.8, ge=0, le=1)  # read back when recognition confidence is below this
    max_tries: int = Field(default=2, ge=1, le=5)  # failed tries before the web-form link is texted
    other_modality: bool = False  # text the link straight away instead of asking by voice
    required: bool = True


class FormSpec(_Spec):
    fields: list[FieldSpec] = Field(min_length=1)
    done: str | None = None  # said when the form is complete, with {field} placeholders


class IntentSpec(_Spec):
    """Something callers ask for. The embedded brain recognises it from the examples; the LLM brain
    gets it as guidance. Slots are typed values taken from what the caller said."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    examples: list[str] = Field(min_length=1)
    slots: dict[str, FieldKind] = Field(default_factory=dict)
    ask: dict[str, str] = Field(default_factory=dict)  # question for a missing slot
    form: str | None = None  # collect this form before the tool runs
    confirm: str | None = None  # ask before doing it ("Shall I place the order?")
    tool: str | None = None
    reply: str | None = None  # {slot}, {field}, {result} or {result.key} placeholders
    error_reply: str | None = None
    summary: str | None = None  # how this call is remembered ("your order of {product}"), for next time
    follow_up: str | None = None  # intent to run if the caller, next time, says they call about this
    sms: str | None = None  # text this to the caller once the tool succeeded (exactly once)
    hangup: bool = False
    action: Literal["transfer", "book_human", "forget_me", "goodbye", "knowledge"] | None = None


class ScopeSpec(_Spec):
    does: list[str] = Field(default_factory=list)  # what the agent is for (said when deflecting)
    out_of_scope: list[str] = Field(default_factory=list)  # examples of requests it must not take on
    action: Literal["deflect", "escalate"] = "deflect"
    reply: str = "Sorry, that's not something I can help with."


class EscalationSpec(_Spec):
    transfer_to: str | None = None  # a phone number for warm transfers
    booking_tool: str | None = None  # a tool that books a human callback
    booking_form: str | None = None  # what to collect for the booking
    transfer_reply: str = "Of course. I'm connecting you to a colleague now."
    booking_reply: str = "I've booked that for you, and I'll text you the details."
    booking_sms: str | None = "Your call with our team is booked: {result}"
    offer: str = "I can connect you to a person if you like."


class KnowledgeSpec(_Spec):
    folder: str = "knowledge"
    min_score: float | None = Field(default=None, ge=0, le=1)


class MemorySpec(_Spec):
    enabled: bool = True
    summaries: int = Field(default=3, ge=0, le=20)


class EmotionSpec(_Spec):
    enabled: bool = True
    allow_upbeat: bool = True
    escalate_after_angry_turns: int = Field(default=2, ge=1, le=10)
    escalate_on_distress: bool = True


class IdentitySpec(_Spec):
    lookup: str | None = None  # async hook in the tools module: (phone) -> {"name": ...} | None
    region: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class AgentSpec(_Spec):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    persona: str  # instructions for the LLM brain; also the agent's character
    language: str = "en"
    greeting: str
    greeting_known: str | None = None  # for a known caller: {name}, {last_summary}, {open_issue}
    voice: VoiceSpec = VoiceSpec()
    tools: str = "tools.py"
    identity: IdentitySpec = IdentitySpec()
    intents: list[IntentSpec] = Field(default_factory=list)
    forms: dict[str, FormSpec] = Field(default_factory=dict)
    scope: ScopeSpec = ScopeSpec()
    knowledge: KnowledgeSpec | None = None
    escalation: EscalationSpec = EscalationSpec()
    memory: MemorySpec = MemorySpec()
    emotion: EmotionSpec = EmotionSpec()
    replies: dict[str, str] = Field(default_factory=dict)  # override built-in lines (see docs/agents.md)

    @field_validator("intents")
    @classmethod
    def _unique_intents(cls, intents: list[IntentSpec]) -> list[IntentSpec]:
        seen: set[str] = set()
        for intent in intents:
            if intent.name in seen:
                raise ValueError(f"intent name {intent.name!r} is used twice")
            seen.add(intent.name)
        return intents


@dataclass
class Definition:
    """A loaded, checked agent folder."""

    folder: Path
    spec: AgentSpec
    tools: dict[str, AgentTool]
    hooks: dict[str, Any] = field(default_factory=dict)  # other async functions in the tools module

    @property
    def name(self) -> str:
        return self.spec.name


_ALL_FIELDS = sorted({name for model in _Spec.__subclasses__() for name in model.model_fields})


def load_definition(folder: str | Path) -> Definition:
    folder = Path(folder)
    path = folder / "agent.yaml"
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such agent folder (it should contain agent.yaml and tools.py)")
    if not path.is_file():
        raise ConfigError(f"{path}: missing; an agent folder needs an agent.yaml")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields (name, persona, greeting, ...), got {type(data).__name__}")
    try:
        spec = AgentSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(path, root, exc)) from None
    tools, hooks = _load_tools(folder, spec)
    definition = Definition(folder, spec, tools, hooks)
    _cross_check(path, root, definition)
    return definition


def _load_tools(folder: Path, spec: AgentSpec) -> tuple[dict[str, AgentTool], dict[str, Any]]:
    module_path = folder / spec.tools
    if not module_path.is_file():
        if spec.tools == "tools.py" and not _tools_needed(spec):
            return {}, {}
        raise ConfigError(f"{folder / 'agent.yaml'}: field 'tools': file {module_path} does not exist")
    name = f"callwright_agent_{re.sub(r'[^a-z0-9_]', '_', spec.name)}_tools"
    loader_spec = importlib.util.spec_from_file_location(name, module_path)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"{module_path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"{module_path}: failed to import: {type(exc).__name__}: {exc}") from None
    tools = {t.name: t for t in vars(module).values() if isinstance(t, AgentTool)}
    hooks = {k: v for k, v in vars(module).items() if callable(v) and not k.startswith("_") and not isinstance(v, AgentTool)}
    return tools, hooks


def _tools_needed(spec: AgentSpec) -> bool:
    return any(i.tool for i in spec.intents) or bool(spec.escalation.booking_tool or spec.identity.lookup)


def _cross_check(path: Path, root: yaml.Node | None, d: Definition) -> None:
    spec = d.spec
    problems: list[str] = []

    def check(loc: tuple[str | int, ...], value: str | None, known: list[str], what: str) -> None:
        if value is None or value in known:
            return
        problems.append(_message(path, root, loc, f"{what} {value!r} is not defined{_did_you_mean(value, known)}"))

    for i, intent in enumerate(spec.intents):
        check(("intents", i, "tool"), intent.tool, list(d.tools), "tool")
        check(("intents", i, "form"), intent.form, list(spec.forms), "form")
        check(("intents", i, "follow_up"), intent.follow_up, [x.name for x in spec.intents], "intent")
        for slot in intent.ask:
            check(("intents", i, "ask", slot), slot, list(intent.slots), "slot")
    check(("escalation", "booking_tool"), spec.escalation.booking_tool, list(d.tools), "tool")
    check(("escalation", "booking_form"), spec.escalation.booking_form, list(spec.forms), "form")
    check(("identity", "lookup"), spec.identity.lookup, list(d.hooks), "hook")
    if spec.knowledge is not None and not (d.folder / spec.knowledge.folder).is_dir():
        problems.append(_message(path, root, ("knowledge", "folder"), f"folder {d.folder / spec.knowledge.folder} does not exist"))
    for name, form in spec.forms.items():
        for j, f in enumerate(form.fields):
            if f.type == "choice" and not f.choices:
                problems.append(_message(path, root, ("forms", name, "fields", j, "choices"), "a 'choice' field needs choices"))
    if problems:
        raise ConfigError("\n".join(problems))


def _explain(path: Path, root: yaml.Node | None, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors()[:5]:
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            what = f"unknown field {name!r}{_did_you_mean(name, _ALL_FIELDS)}"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']+)'", str(error.get("ctx", {}).get("expected", "")))
            what = f"{error['input']!r} is not one of {', '.join(expected)}{_did_you_mean(str(error['input']), expected)}"
        elif kind == "missing":
            what = "is required"
        else:
            what = f"{error['msg']} (got {error.get('input')!r})"
        lines.append(_message(path, root, loc, what))
    return "\n".join(lines)


def _message(path: Path, root: yaml.Node | None, loc: tuple[Any, ...], what: str) -> str:
    line = _line_of(root, loc)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return f"{path}{f':{line}' if line else ''}: field '{where}': {what}"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _did_you_mean(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(known)}" if known and len(known) <= 12 else ""
