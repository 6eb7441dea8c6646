"""An agent definition: a folder with ``agent.yaml`` and a Python module of tools.

``load_definition(folder)`` validates the whole definition up front and raises
:class:`~callwright.errors.ConfigError` naming the file, the line, the field, what is wrong and,
where it can guess, what was meant::

    examples/agents/order-desk/agent.yaml:41: field 'intents[2].slots.order_number': 'nmber' is not
    one of phone, date, ...; did you mean 'number'?

The schema is documented field by field in ``docs/agents.md``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError
from ..phone import is_e164
from ..yamlfile import did_you_mean, load_model, message
from .replies import CALLER_VALUES, PLACEHOLDERS, REPLIES, placeholders
from .tools import AgentTool

FieldKind = Literal["phone", "date", "time", "datetime", "number", "money", "email", "address", "choice", "yes_no", "text"]
PATIENT_KINDS = frozenset({"phone", "number", "address", "email", "money"})  # read out slowly, with pauses


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoiceSpec(_Spec):
    """The agent's own voice. ``tts`` names the speech engine a server uses for this agent (over
    ``--tts``); ``rate`` and ``pitch`` multiply the engine's defaults; styles adjust from here."""

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
    # what a caller who accepts the offer gets: the way the offer says ("I can book a call with a
    # nurse": booking); default: a transfer when transfer_to is set, else a booking
    offer_mode: Literal["transfer", "booking"] | None = None
    confirm: str | None = None  # asked when the offer gets a bare "ok"; default: the confirm_person line


class KnowledgeSpec(_Spec):
    folder: str = "knowledge"
    min_score: float | None = Field(default=None, ge=0, le=1)
    # Phrases that mark a document sentence as safety advice, spoken whatever the answer's length
    # (added to the built-in ones: "call emergency services", "call your care team", ...).
    warnings: list[str] = Field(default_factory=list)


class RedFlagSpec(_Spec):
    """A warning sign the agent acts on in code, before any brain: advice first, then a person."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    level: Literal["emergency", "urgent", "watch"]
    when: list[str] = Field(min_length=1)  # patterns: "calf|leg + swollen|swelling|hot" (see docs/agents.md)
    advice: str | None = None  # said first; default per level ("Please hang up and call emergency services ...")
    after: list[str] = Field(default_factory=list)  # fire only if one of these flags was seen in the call
    unless: list[str] = Field(default_factory=list)  # patterns that, in the same clause, mean something else
    then: Literal["transfer", "booking", "advice_only"] | None = None  # default: safety.then


class SafetySpec(_Spec):
    person_requests: bool = True  # "a person, please" transfers at once, in any state
    then: Literal["transfer", "booking"] = "transfer"  # what follows a red flag's advice
    emergency_number: str = "911"
    red_flags: list[RedFlagSpec] = Field(default_factory=list)


class UnderstandingSpec(_Spec):
    """How sure the embedded understanding must be. The defaults suit the bundled MiniLM embedder."""

    misheard_below: float = Field(default=0.6, ge=0, le=1)  # recognition confidence under which a turn that matches nothing is asked again
    intent_threshold: float = Field(default=0.55, ge=0, le=1)  # an intent below this is no match
    strong_match: float = Field(default=0.75, ge=0, le=1)  # an intent above this wins over the documents


class MemorySpec(_Spec):
    """What the agent keeps about a caller between calls (by phone number; ``forget_me`` deletes it)."""

    enabled: bool = True
    summaries: int = Field(default=3, ge=0, le=20)  # latest call summaries the agent reads (the LLM's context; {last_summary})
    # Values kept about the caller when a request that collected them completes (slot or form field
    # names), and offered back next time ("Same delivery address as last time, ...?"). Default: a
    # value named 'name' and every address field of a form.
    facts: list[str] | None = None


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
    language: str = "en"  # only "en": every speech and reading rule is English
    timezone: str = "UTC"  # IANA name ("America/New_York"): "now", relative dates, read-backs and tool values
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
    safety: SafetySpec = SafetySpec()
    understanding: UnderstandingSpec = UnderstandingSpec()
    memory: MemorySpec = MemorySpec()
    emotion: EmotionSpec = EmotionSpec()
    replies: dict[str, str] = Field(default_factory=dict)  # override built-in lines (see docs/agents.md)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(name, sorted(available_timezones())) or "; use an IANA name such as 'America/New_York'"
            raise ValueError(f"unknown time zone {name!r}{hint}") from None
        return name

    @field_validator("language")
    @classmethod
    def _english(cls, language: str) -> str:
        if language != "en":
            raise ValueError("only 'en' is supported: every speech and reading rule is English")
        return language

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
    spec, root = load_model(path, AgentSpec, known_fields=_ALL_FIELDS, what="fields (name, persona, greeting, ...)")
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
    """What one field cannot say alone: names that refer to each other, templates, numbers, tools."""
    spec = d.spec
    problems: list[str] = []

    def problem(loc: tuple[str | int, ...], what: str) -> None:
        problems.append(message(path, root, loc, what))

    def check(loc: tuple[str | int, ...], value: str | None, known: list[str], what: str) -> None:
        if value is None or value in known:
            return
        problem(loc, f"{what} {value!r} is not defined{did_you_mean(value, known)}")

    def check_template(loc: tuple[str | int, ...], template: str | None, allowed: set[str] | frozenset[str]) -> None:
        for name in placeholders(template or ""):
            base = name.split(".", 1)[0]
            if name in allowed or (base == "result" and "result" in allowed):
                continue
            problem(loc, f"placeholder {{{name}}} has no value here{did_you_mean(name, sorted(allowed))}")

    def check_parameters(loc: tuple[str | int, ...], tool_name: str | None, provided: set[str]) -> None:
        tool = d.tools.get(tool_name or "")
        if tool is None:
            return
        required = [str(p) for p in tool.spec.parameters.get("required", [])]
        for parameter in required:
            if parameter not in provided:
                problem(loc, f"tool {tool.name!r} needs parameter {parameter!r}, which no slot or form field here provides"
                        f" (provided: {', '.join(sorted(provided)) or 'nothing'})")

    for i, intent in enumerate(spec.intents):
        check(("intents", i, "tool"), intent.tool, list(d.tools), "tool")
        check(("intents", i, "form"), intent.form, list(spec.forms), "form")
        check(("intents", i, "follow_up"), intent.follow_up, [x.name for x in spec.intents], "intent")
        for slot in intent.ask:
            check(("intents", i, "ask", slot), slot, list(intent.slots), "slot")
        fields = {f.name for f in spec.forms[intent.form].fields} if intent.form in spec.forms else set()
        values = set(intent.slots) | fields | CALLER_VALUES
        for key in ("confirm", "error_reply"):
            check_template(("intents", i, key), getattr(intent, key), values)
        for key in ("reply", "summary", "sms"):
            check_template(("intents", i, key), getattr(intent, key), values | ({"result"} if intent.tool else set()))
        check_parameters(("intents", i, "tool"), intent.tool, values)
    e = spec.escalation
    check(("escalation", "booking_tool"), e.booking_tool, list(d.tools), "tool")
    check(("escalation", "booking_form"), e.booking_form, list(spec.forms), "form")
    booking_fields = {f.name for f in spec.forms[e.booking_form].fields} if e.booking_form in spec.forms else set()
    for key in ("booking_reply", "booking_sms"):
        check_template(("escalation", key), getattr(e, key), booking_fields | CALLER_VALUES | {"result"})
    check_parameters(("escalation", "booking_tool"), e.booking_tool, booking_fields | CALLER_VALUES)
    if spec.voice.tts is not None:
        from ..engines.registry import default_registry

        engines = default_registry.names("tts")
        if spec.voice.tts not in engines:
            problem(("voice", "tts"), f"TTS engine {spec.voice.tts!r} is unknown{did_you_mean(spec.voice.tts, engines)}")
    if e.transfer_to is not None and not is_e164(e.transfer_to):
        problem(("escalation", "transfer_to"), f"{e.transfer_to!r} is not a phone number in E.164 form (like +15551230000)")
    check(("identity", "lookup"), spec.identity.lookup, list(d.hooks), "hook")
    check_template(("greeting_known",), spec.greeting_known, {"name", "last_summary", "open_issue"})
    known_values = {name for i in spec.intents for name in i.slots} | {f.name for form in spec.forms.values() for f in form.fields}
    for j, fact in enumerate(spec.memory.facts or []):
        if fact not in known_values | {"name"}:
            problem(("memory", "facts", j), f"{fact!r} is no slot or form field{did_you_mean(fact, sorted(known_values))}")
    for key, line in spec.replies.items():
        if key not in REPLIES:
            problem(("replies", key), f"unknown line {key!r}{did_you_mean(key, sorted(REPLIES))}")
        else:
            check_template(("replies", key), line, PLACEHOLDERS.get(key, frozenset()))
    if spec.knowledge is not None and not (d.folder / spec.knowledge.folder).is_dir():
        problem(("knowledge", "folder"), f"folder {d.folder / spec.knowledge.folder} does not exist")
    for name, form in spec.forms.items():
        check_template(("forms", name, "done"), form.done, {f.name for f in form.fields} | CALLER_VALUES)
        for j, f in enumerate(form.fields):
            if f.type == "choice" and not f.choices:
                problem(("forms", name, "fields", j, "choices"), "a 'choice' field needs choices")
    _check_safety(spec, problem)
    if problems:
        raise ConfigError("\n".join(problems))


def _check_safety(spec: AgentSpec, problem: Any) -> None:
    from .safety import Pattern

    names = [f.name for f in spec.safety.red_flags]
    wants = {spec.safety.then} | {f.then for f in spec.safety.red_flags if f.then}
    e = spec.escalation
    if spec.safety.red_flags or spec.safety.person_requests:
        if "transfer" in wants and not e.transfer_to and not e.booking_tool and spec.safety.red_flags:
            problem(("safety", "then"), "red flags hand over to a person, but escalation has no transfer_to or booking_tool")
        if "booking" in wants and not e.booking_tool:
            problem(("safety", "then"), "'booking' needs escalation.booking_tool")
    for i, flag in enumerate(spec.safety.red_flags):
        if names.count(flag.name) > 1:
            problem(("safety", "red_flags", i, "name"), f"red flag name {flag.name!r} is used twice")
        for name in flag.after:
            if name not in names:
                problem(("safety", "red_flags", i, "after"), f"red flag {name!r} is not defined{did_you_mean(name, names)}")
        for key in ("when", "unless"):
            for j, pattern in enumerate(getattr(flag, key)):
                try:
                    Pattern.parse(pattern)
                except ConfigError as exc:
                    problem(("safety", "red_flags", i, key, j), str(exc))


