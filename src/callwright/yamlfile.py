"""YAML files validated by pydantic models, with errors that name the file, the line and the field.

Agent definitions (``agent.yaml``) and conversation suites use it, so both report problems the same
way::

    examples/agents/order-desk/agent.yaml:41: field 'intents[2].slots.order_number': 'nmber' is not
    one of phone, date, ...; did you mean 'number'?
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], *, known_fields: Sequence[str] = (), what: str = "fields") -> tuple[M, yaml.Node | None]:
    """Read ``path`` and validate it as ``model``; the YAML node tree comes back too, for later messages.

    Raises :class:`ConfigError` with ``file:line: field '...': problem; did you mean ...?``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {what}, got {type(data).__name__}")
    try:
        return model.model_validate(data), root
    except ValidationError as exc:
        raise ConfigError(explain(path, root, exc, known_fields)) from None


def explain(path: Path, root: yaml.Node | None, exc: ValidationError, known_fields: Sequence[str] = ()) -> str:
    """One line per problem (the first five): where, which field, what is wrong, what was meant."""
    lines = []
    for error in exc.errors()[:5]:
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            what = f"unknown field {name!r}{did_you_mean(name, known_fields)}"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']+)'", str(error.get("ctx", {}).get("expected", "")))
            what = f"{error['input']!r} is not one of {', '.join(expected)}{did_you_mean(str(error['input']), expected)}"
        elif kind == "missing":
            what = "is required"
        else:
            said = str(error["msg"]).removeprefix("Value error, ")  # our validators' own words
            what = f"{said} (got {error.get('input')!r})"
        lines.append(message(path, root, _model_loc(loc), what))
    return "\n".join(lines)


def _model_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member tags ("str", "ToolExpect") from a location."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p[:1].isupper() or p in ("str", "int", "float", "bool", "list[str]"))))


def message(path: Path, root: yaml.Node | None, loc: tuple[Any, ...], what: str) -> str:
    line = line_of(root, loc)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return f"{path}{f':{line}' if line else ''}: field '{where}': {what}"


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest part of ``loc`` found in the YAML node tree."""
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


def did_you_mean(value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(known)}" if known and len(known) <= 12 else ""
