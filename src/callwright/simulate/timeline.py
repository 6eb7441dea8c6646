"""A call's events as the report shows them: when (on the call's clock), what, and a few words.

The full events stay in the agent's trace; a case keeps only the moments a reader looks for on a
timeline (what the agent heard, what it said, tools, forms, transfers, interruptions, errors, the
end), each with a detail cut to :data:`DETAIL_CHARS`. Partial transcripts, playback marks, the
sentences handed to synthesis and the latency stages before the last are left out: they come many
per turn and say nothing the kept ones do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .. import events as ev

DETAIL_CHARS = 120


@dataclass(frozen=True)
class Moment:
    """One event of a call: ``t_ms`` after the call started, its type, the caller turn it belongs to."""

    t_ms: float
    type: str
    turn: int | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _tool_call(e: Any) -> str:
    arguments = ", ".join(f"{k}={v!r}" for k, v in e.arguments.items())
    return f"{e.name}({arguments})"


_DETAILS: dict[type, Callable[[Any], str]] = {
    ev.CallStarted: lambda e: f"{e.transport}, agent {e.agent}",
    ev.SpeechStarted: lambda e: "",
    ev.SpeechStopped: lambda e: "",
    ev.TranscriptFinal: lambda e: e.text + (f" (confidence {e.confidence:.2f})" if e.confidence is not None else ""),
    ev.AgentTurn: lambda e: e.text + (" [interrupted]" if e.interrupted else ""),
    ev.BargeIn: lambda e: f"after {e.heard_ms:.0f} ms: {e.heard_text}",
    ev.SpeechIgnored: lambda e: e.reason + (f": {e.text}" if e.text else ""),
    ev.Latency: lambda e: f"{e.ms:.0f} ms",
    ev.ErrorEvent: lambda e: f"{e.code}: {e.message}",
    ev.CallEnded: lambda e: e.reason,
    ev.CallerIdentified: lambda e: "known caller" if e.known else "new caller",
    ev.IntentRecognized: lambda e: f"{e.name} ({e.score:.2f})",
    ev.ToolCalled: _tool_call,
    ev.ToolProgress: lambda e: f"{e.name}: {e.text}",
    ev.ToolResult: lambda e: f"{e.name}: {e.status} in {e.ms:.0f} ms" + (f" ({e.error})" if e.error else ""),
    ev.EmotionEstimated: lambda e: e.label,
    ev.FormField: lambda e: f"{e.form}.{e.field} {e.status}" + (f": {e.value}" if e.value else ""),
    ev.KnowledgeCited: lambda e: e.query,
    ev.Transfer: lambda e: f"{e.mode} to {e.to}" + (f" ({e.reason})" if e.reason else ""),
    ev.MessageSent: lambda e: f"{e.purpose or 'text'}: {e.body}",
    ev.Misheard: lambda e: f"{e.text} (miss {e.attempt})" + (f", offered {e.offered}" if e.offered else ""),
    ev.SafetyFlag: lambda e: f"{e.rule} ({e.level}): {', '.join(e.cues)} -> {e.action}",
}


def moments(events: Sequence[ev.Event]) -> list[Moment]:
    """The events worth a place on the call's timeline, in order (see the module docstring)."""
    kept = []
    for event in events:
        detail = _DETAILS.get(type(event))
        if detail is None or (isinstance(event, ev.Latency) and event.stage != "voice_to_voice"):
            continue
        text = " ".join(detail(event).split())
        text = text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
        kept.append(Moment(round(event.t_ms, 1), event.type, getattr(event, "turn", None), text))
    return kept
