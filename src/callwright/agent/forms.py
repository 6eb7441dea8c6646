"""Collecting typed values by voice: what to ask next, when to read back, when to text a link.

The rules, per field:

* ask for one missing field at a time, with its own prompt; while the caller reads out a number, a
  phone number or an address, listen more patiently (the Call stretches endpointing);
* a value parsed with low recognition confidence, or any value of a ``high_stakes`` field, is read
  back ("I heard twelve Oak Street. Is that right?") and kept only on a yes;
* never ask the caller to spell: after ``max_tries`` failed tries, or straight away for fields
  marked ``other_modality``, text a signed link to a web form whose value comes back to the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .spec import PATIENT_KINDS, FieldSpec, FormSpec
from .values import Parsed, parse_value

PATIENCE = 2.0  # endpointing waits this many times longer while a caller reads out digits or an address


@dataclass
class FormState:
    name: str
    spec: FormSpec
    values: dict[str, str] = field(default_factory=dict)  # canonical text of each filled field
    tries: dict[str, int] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)  # fields whose link was texted
    completed: bool = False  # every required field was filled (and the form's ``done`` line said)

    def missing(self) -> FieldSpec | None:
        return next((f for f in self.spec.fields if f.required and f.name not in self.values), None)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.spec.fields if f.name == name)

    def failed(self, name: str) -> int:
        self.tries[name] = self.tries.get(name, 0) + 1
        return self.tries[name]


Verdict = Literal["fill", "confirm", "retry"]


def judge(spec: FieldSpec, parsed: Parsed | None, confidence: float | None) -> Verdict:
    """What to do with a caller's answer to a field's question."""
    if parsed is None or parsed.certainty < 0.5:
        return "retry"  # nothing that looks like the value: ask again (never "please spell it")
    unsure = (confidence is not None and confidence < spec.confirm_below) or parsed.certainty < 0.75
    return "confirm" if spec.high_stakes or unsure else "fill"


def parse_answer(spec: FieldSpec, text: str, *, now: datetime, region: str) -> Parsed | None:
    return parse_value(spec.type, text, now=now, choices=spec.choices, region=region)


def wants_patience(spec: FieldSpec) -> bool:
    return spec.type in PATIENT_KINDS
