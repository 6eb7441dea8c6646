"""docs/protocol.md lists every event of the protocol, each with every field: read from events.py,
not from a list kept by hand, so a new event or field fails here until it is documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from callwright import events as ev

DOCS = Path(__file__).parents[2] / "docs" / "protocol.md"
BASE_FIELDS = {"v", "call_id", "seq", "t_ms", "type"}


def _models(union: object) -> list[type[ev.BaseModel]]:
    inner = typing.get_args(union)[0]  # Annotated[Union[...], Field(discriminator)]
    return list(typing.get_args(inner))


def _rows(section: str) -> dict[str, str]:
    """Table rows of one ``## section`` of protocol.md, by the event type in their first cell."""
    text = DOCS.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    rows: dict[str, str] = {}
    for line in text[start : end if end != -1 else None].splitlines():
        m = re.match(r"\| `([a-z_.]+)` \|(.*)", line)
        if m:
            rows.setdefault(m.group(1), m.group(2))
    return rows


def _documented(section: str, models: list[type[ev.BaseModel]]) -> list[str]:
    rows = _rows(section)
    problems = []
    for model in models:
        name = model.model_fields["type"].default
        row = rows.get(name)
        if row is None:
            problems.append(f"{name} ({model.__name__}) has no row")
            continue
        for field in sorted(set(model.model_fields) - BASE_FIELDS):
            if f"`{field}`" not in row:
                problems.append(f"{name}: field {field!r} is not in its row")
    return problems


@pytest.mark.parametrize(
    ("section", "union"),
    [("Events, server to client", ev.ServerEvent), ("Events, client to server", ev.ClientEvent)],
)
def test_every_event_and_field_is_in_protocol_md(section: str, union: object) -> None:
    models = _models(union)
    assert len(models) >= 5
    assert _documented(section, models) == []


def test_the_check_fails_for_an_undocumented_event() -> None:
    class Invented(ev.CallEnded):
        type: typing.Literal["invented.event"] = "invented.event"  # type: ignore[assignment]

    assert _documented("Events, server to client", [Invented]) == ["invented.event (Invented) has no row"]
