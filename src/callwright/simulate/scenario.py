"""Simulator scenarios: who calls, from where, what they say and when, and what must be true after.

A scenario file is a conversation suite (``docs/testing.md``) with more in it, so every suite of the
example agents is a simulator suite as it stands::

    agent: order-desk
    defaults:                              # for every scenario that does not say otherwise
      persona: {emotion: neutral}
      environment: {channel: phone}
    matrix:                                # each scenario is run once per combination (or a sample)
      persona.emotion: [neutral, angry]
      environment.noise: [null, {kind: babble, snr_db: 5}]
      sample: 3                            # seeded sampling; leave out for every combination
      seed: 7
    scenarios:                             # "conversations" is read the same way
      - name: where is my order
        persona: {name: Sam, phone: "+14155550123"}
        facts: {order number: "4567"}      # said only when the agent asks for them
        turns:
          - say: where's my order
          - say: it's 4567
            when: {says_any: [order number]}   # only if the agent asked for it
        expect:
          tools: [{name: order_status, arguments: {order_number: "4567"}}]

A turn is taken in order; a turn with ``when`` is skipped unless the agent's last reply (or its
events) match it. After the script, a caller whose facts answer what the agent just asked gives
that fact; otherwise the call is over. Voice-only steps (``silence``, ``backchannel``,
``interrupt``) are acoustic: in text mode they are left out, and the report says so.

Every scenario becomes one or more :class:`Case` with its own seed (:func:`cases`): the same seed
gives the same voice, noise and packet loss, so a failure is replayed exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from ..testing.conversations import Conversation, EndExpect, Turn, TurnExpect
from ..yamlfile import load_model
from .environment import Environment
from .prosody import Emotion
from .utterance import BackchannelKind
from .voices import Voice


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Persona(_Strict):
    """Who calls. ``voice`` is how they sound (:mod:`callwright.simulate.voices`); in text mode only
    ``phone`` (caller recognition, memory) and ``name`` matter."""

    name: str | None = None
    phone: str | None = None  # the caller's number as the agent sees it; none: withheld
    language: str = "en"
    emotion: Emotion = "neutral"
    voice: Voice | None = None  # engine, accent, rate, pitch, disfluencies (:mod:`.voices`); its emotion is this one's
    patience_s: float = Field(default=8.0, gt=0)  # how long the caller waits in silence before hanging up

    def sounding(self) -> Voice:
        """The voice as this caller speaks: the persona's emotion, unless the voice sets its own."""
        voice = self.voice or Voice()
        if voice.emotion == "neutral" and self.emotion != "neutral":
            voice = voice.model_copy(update={"emotion": self.emotion})
        return voice


class When(_Strict):
    """A condition on what the agent just did: it said one of these, or raised one of these events."""

    says_any: list[str] = Field(default_factory=list)
    not_says: list[str] = Field(default_factory=list)
    event: list[str] = Field(default_factory=list)  # event types, e.g. tool.called, transfer

    @field_validator("says_any", "not_says", "event", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Interrupt(_Strict):
    """Say the turn while the agent is talking: ``after_ms`` into its ``sentence``-th sentence (1-based)."""

    sentence: int = Field(default=1, ge=1)
    after_ms: int = Field(default=800, ge=0)


class Backchannel(Interrupt):
    """A listener's "mm-hmm" over the agent's talk, ``after_ms`` into its ``sentence``-th sentence.
    ``backchannel: mm-hmm`` is short for ``{say: mm-hmm}`` (the first sentence, 800 ms in)."""

    say: BackchannelKind


class Step(Turn):
    """One caller turn: a conversation suite's turn, plus the acoustic and conditional parts."""

    say: str | None = None
    dtmf: str | None = Field(default=None, pattern=r"^[0-9*#]+$")  # keys pressed instead of speaking
    silence_s: float = Field(default=0.0, ge=0)  # the caller says nothing this long first
    backchannel: Backchannel | None = None  # said over the agent's talk before this step ("mm-hmm"), not a turn
    interrupt: Interrupt | None = None  # ``say`` is said over the agent's talk, at this moment
    hangup: bool = False  # the caller hangs up here (after saying ``say``, if any)
    when: When | None = None
    latency_ms: float | None = Field(default=None, gt=0)  # the agent's answer must start within this, as heard

    @field_validator("backchannel", mode="before")
    @classmethod
    def _backchannel_word(cls, value: Any) -> Any:
        return {"say": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_input(self) -> Step:  # a step may be a silence, a hang-up or keys
        inputs = [self.say is not None, self.web is not None, self.dtmf is not None]
        if sum(inputs) > 1:
            raise ValueError("a turn says, types keys (dtmf) or fills a web form: one of them")
        if self.interrupt is not None and self.say is None:
            raise ValueError("'interrupt' says the turn's 'say' over the agent: give 'say' too")
        if not any(inputs) and not self.hangup and not self.silence_s and self.backchannel is None:
            raise ValueError("a turn needs 'say', 'dtmf', 'web', 'silence_s', 'backchannel' or 'hangup'")
        if self.web is not None and set(self.web) != {"form", "field", "value"}:
            raise ValueError("'web' needs form, field and value")
        return self


class LatencyBudget(_Strict):
    """Voice-to-voice latency as the caller hears it, over the call's answers."""

    p50_ms: float | None = Field(default=None, gt=0)
    p90_ms: float | None = Field(default=None, gt=0)


class StateCheck(_Strict):
    """The backend, after the call, through one of the agent's tools: ``tool(arguments)`` must give
    a result whose ``fields`` hold these values (compared as text)."""

    tool: str
    arguments: dict[str, str | int | float | bool] = Field(default_factory=dict)
    fields: dict[str, str | int | float | bool] = Field(default_factory=dict)  # equal, as text
    contains: dict[str, str] = Field(default_factory=dict)  # the field's text holds this (case-insensitive)


class ScenarioExpect(EndExpect):
    state: list[StateCheck] = Field(default_factory=list)
    turns_max: int | None = Field(default=None, ge=1)  # caller turns to get it done
    latency: LatencyBudget | None = None


class Scenario(_Strict):
    name: str
    caller: str | None = None  # the caller's number (a conversation suite's field; persona.phone wins)
    safety: bool = False
    tags: list[str] = Field(default_factory=list)
    note: str = ""
    persona: Persona | None = None
    environment: Environment | None = None
    goal: str = ""  # for a goal-driven (LLM) caller: what they want, in their words
    facts: dict[str, str] = Field(default_factory=dict)  # told only when asked: {what the agent asks about: answer}
    turns: list[Step] = Field(min_length=1)
    expect: ScenarioExpect = ScenarioExpect()

    @field_validator("facts", mode="before")
    @classmethod
    def _said(cls, value: Any) -> Any:
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @property
    def phone(self) -> str | None:
        return self.persona.phone if self.persona is not None and self.persona.phone else self.caller


class Defaults(_Strict):
    persona: Persona | None = None
    environment: Environment | None = None


MATRIX_PATHS = ("persona.emotion", "persona.voice", "persona.language",
                "environment.noise", "environment.room", "environment.channel", "environment.bursts", "environment.echo",
                "environment")


class Matrix(_Strict):
    """Dimensions to run every scenario across: ``path: [values]``, every combination or a seeded sample."""

    model_config = ConfigDict(extra="allow", frozen=True)
    sample: int | None = Field(default=None, ge=1)  # this many combinations per scenario, drawn with ``seed``
    seed: int = 0

    @model_validator(mode="after")
    def _known(self) -> Matrix:
        for path, values in self.dimensions.items():
            if path not in MATRIX_PATHS:
                raise ValueError(f"matrix dimension {path!r} is not one of {', '.join(MATRIX_PATHS)}")
            if not isinstance(values, list) or not values:
                raise ValueError(f"matrix dimension {path!r} needs a list of values")
        return self

    @property
    def dimensions(self) -> dict[str, list[Any]]:
        return dict(self.model_extra or {})


class ScenarioSuite(_Strict):
    agent: str | None = None
    description: str = ""
    defaults: Defaults = Defaults()
    matrix: Matrix | None = None
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _conversations(cls, data: Any) -> Any:
        """A conversation suite's ``conversations`` are its scenarios."""
        if isinstance(data, dict) and "conversations" in data and "scenarios" not in data:
            data = {**data, "scenarios": data["conversations"]}
            del data["conversations"]
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> ScenarioSuite:
        seen: set[str] = set()
        for scenario in self.scenarios:
            if scenario.name in seen:
                raise ValueError(f"scenario name {scenario.name!r} is used twice")
            seen.add(scenario.name)
        return self


_FIELDS = sorted({n for m in (Persona, When, Interrupt, Step, TurnExpect, LatencyBudget, StateCheck, ScenarioExpect,
                              Scenario, Defaults, ScenarioSuite) for n in m.model_fields} | {"conversations"})


def load_scenarios(path: str | Path) -> ScenarioSuite:
    """Read and validate a scenario file; a problem raises ConfigError with ``file:line: field: what``."""
    suite, _ = load_model(Path(path), ScenarioSuite, known_fields=_FIELDS, what="scenario fields (agent, scenarios)")
    return suite


# ------------------------------------------------------------------ cases: scenarios × matrix, each with a seed
class Case(_Strict):
    """One run of a scenario: its persona and environment settled, and the seed everything random uses."""

    scenario: Scenario
    seed: int
    dimensions: dict[str, Any] = Field(default_factory=dict)  # the matrix values this case took
    repeat: int = Field(default=0, ge=0)  # which run of the case this is, with ``--repeat`` (0: the first)

    @property
    def name(self) -> str:
        if not self.dimensions:
            return self.scenario.name
        return f"{self.scenario.name} [{', '.join(f'{k}={_short(v)}' for k, v in self.dimensions.items())}]"


def cases(suite: ScenarioSuite, *, seed: int | None = None) -> list[Case]:
    """Every case of ``suite``: each scenario with the suite's defaults, across its matrix.

    A case's seed comes from the suite's seed (``seed`` overrides the matrix's), the scenario's name
    and the case's dimensions, so adding a scenario or a dimension value does not change the others.
    """
    base = seed if seed is not None else (suite.matrix.seed if suite.matrix is not None else 0)
    out: list[Case] = []
    for scenario in suite.scenarios:
        settled = _with_defaults(scenario, suite.defaults)
        for dims in _combinations(suite.matrix, scenario.name, base):
            case_seed = _seed(base, scenario.name, dims)
            out.append(Case(scenario=_apply(settled, dims), seed=case_seed, dimensions=dims))
    return out


def repeated(every: list[Case], times: int) -> list[Case]:
    """Each case ``times`` times over, its runs next to each other: the first with the case's own seed,
    run ``k`` with a seed drawn from the case's seed and ``k`` (so a voice, its noise and its packet
    loss differ from run to run, and the same command gives the same runs again)."""
    return [
        case if k == 0 else case.model_copy(update={"seed": _seed(case.seed, case.scenario.name, {"repeat": k}), "repeat": k})
        for case in every for k in range(times)
    ]


def _with_defaults(scenario: Scenario, defaults: Defaults) -> Scenario:
    update: dict[str, Any] = {}
    if defaults.persona is not None:
        mine = scenario.persona.model_dump(exclude_unset=True) if scenario.persona is not None else {}
        update["persona"] = Persona.model_validate({**defaults.persona.model_dump(exclude_unset=True), **mine})
    if defaults.environment is not None and scenario.environment is None:
        update["environment"] = defaults.environment
    return scenario.model_copy(update=update) if update else scenario


def _combinations(matrix: Matrix | None, name: str, seed: int) -> Iterator[dict[str, Any]]:
    if matrix is None or not matrix.dimensions:
        yield {}
        return
    paths = list(matrix.dimensions)
    every = [dict(zip(paths, values, strict=True)) for values in itertools.product(*matrix.dimensions.values())]
    if matrix.sample is not None and matrix.sample < len(every):
        rng = random.Random(_seed(seed, name, {"sample": matrix.sample}))
        every = [every[i] for i in sorted(rng.sample(range(len(every)), matrix.sample))]
    yield from every


def _apply(scenario: Scenario, dims: dict[str, Any]) -> Scenario:
    """The scenario with each matrix value put at its path (validated as the field it replaces)."""
    if not dims:
        return scenario
    persona = scenario.persona.model_dump(exclude_unset=True) if scenario.persona is not None else {}
    environment = scenario.environment.model_dump(exclude_unset=True) if scenario.environment is not None else {}
    for path, value in dims.items():
        if path == "environment":
            environment = dict(value or {})
            continue
        block, field = path.split(".", 1)
        target = persona if block == "persona" else environment
        if value is None:
            target.pop(field, None)
        else:
            target[field] = value
    try:
        return scenario.model_copy(update={
            "persona": Persona.model_validate(persona) if persona or scenario.persona is not None else None,
            "environment": Environment.model_validate(environment) if environment or scenario.environment is not None else None,
        })
    except ValueError as exc:
        raise ConfigError(f"scenario {scenario.name!r} with matrix values {dims}: {exc}") from None


def _seed(base: int, name: str, dims: dict[str, Any]) -> int:
    """A stable seed (not Python's salted hash): the same inputs give the same seed on every machine."""
    text = repr((base, name, sorted((k, repr(v)) for k, v in dims.items())))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{_short(v)}" for k, v in value.items())
    return str(value)


def as_conversation(scenario: Scenario) -> Conversation:
    """The typed part of a scenario, for text mode's conversation runner (voice-only steps left out)."""
    turns = [
        Turn(say=s.say, confidence=s.confidence, web=s.web, expect=s.expect)
        for s in scenario.turns
        if s.say is not None or s.web is not None
    ]
    return Conversation(
        name=scenario.name, caller=scenario.phone, safety=scenario.safety, tags=scenario.tags, note=scenario.note,
        turns=turns, expect=EndExpect.model_validate(scenario.expect.model_dump(include=set(EndExpect.model_fields))),
    )
