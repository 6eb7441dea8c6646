"""What an agent remembers about a caller across calls: identity, facts, summaries, open issues.

:class:`CallerMemory` belongs to one call. :meth:`open` identifies the caller by number (E.164)
from the store and the agent's lookup hook, reads the facts kept about them and their latest call
summaries, counts the call and returns the greeting (by name for a known caller, with the last
summary and the open issue to ask about); :meth:`learn` takes the facts a completed request gave
(``memory.facts`` in agent.yaml); :meth:`close` writes them, this call's summary and the issues it
leaves open; :meth:`forget` deletes everything kept for the number, and nothing is written after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from .. import events as ev
from ..phone import to_e164
from .replies import fill

if TYPE_CHECKING:
    from ..store.base import Store
    from .app import AgentApp


@dataclass
class CallerMemory:
    app: AgentApp
    emit: Any  # Callable[[ev.Event], Any]
    phone: str | None = None
    name: str | None = None
    open_issue: Any = None  # the issue the greeting asks about
    recall_question: str = ""  # how the greeting asked about it
    done: list[str] = field(default_factory=list)  # what happened in this call, for its summary
    follow_ups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (topic, ref) to open as issues
    forgotten: bool = False
    facts: dict[str, str] = field(default_factory=dict)  # kept about the caller (from earlier calls, and learned in this one)
    learned: dict[str, str] = field(default_factory=dict)  # facts this call gave, written when it ends
    summaries: list[str] = field(default_factory=list)  # the caller's latest call summaries, newest first

    @property
    def enabled(self) -> bool:
        return self._kept() is not None

    def _kept(self) -> tuple[Store, str] | None:
        """The store and the caller's number, when this caller is remembered."""
        store = self.app.services.store
        if store is None or self.phone is None or not self.app.spec.memory.enabled:
            return None
        return store, self.phone

    async def open(self, caller: str | None) -> str:
        """Identify the caller and return the greeting; sets :attr:`open_issue` when there is one to ask about."""
        spec = self.app.spec
        self.phone = to_e164(caller, spec.identity.region)
        kept = self._kept()
        known = None
        calls_before = 0
        last_summary = ""
        if kept is not None:
            store, phone = kept
            known = await store.get_caller(phone)
            calls_before = known.calls if known else 0
            self.name = known.name if known else None
            self.facts = dict(known.facts) if known else {}
            limit = spec.memory.summaries
            summaries = await store.summaries(phone, limit=limit) if known and limit else []
            self.summaries = [s.summary for s in summaries]
            last_summary = self.summaries[0] if self.summaries else ""
        hook = self.app.definition.hooks.get(spec.identity.lookup or "")
        if self.phone and self.name is None and hook is not None:
            info = await hook(self.phone)
            if info:
                self.name = info.get("name") if isinstance(info, dict) else str(info)
        if kept is not None:
            await kept[0].upsert_caller(kept[1], self.name)
            await kept[0].count_call(kept[1])
        self.emit(ev.CallerIdentified(phone=self.phone, name=self.name, known=self.name is not None or known is not None, calls_before=calls_before))
        if not self.name:
            return spec.greeting
        replies = self.app.replies
        issues = await kept[0].open_issues(kept[1]) if kept is not None else []
        template = spec.greeting_known or replies["welcome_back"] + " " + spec.greeting
        greeting = fill(template, {"name": self.name, "last_summary": last_summary, "open_issue": issues[-1].text if issues else ""})
        if issues:
            self.open_issue = issues[-1]
            now = self.app.now()
            opened = self.open_issue.opened_at
            opened = (opened if opened.tzinfo is not None else opened.replace(tzinfo=UTC)).astimezone(now.tzinfo)
            day = opened.strftime("%A")
            if opened.date() == now.date():
                day = "earlier today"
            self.recall_question = fill(replies["recall"], {"topic": self.open_issue.text, "day": day})
            if "{open_issue}" not in template:  # a greeting that names the issue asks about it in its own words
                greeting += " " + self.recall_question
        return greeting

    def learn(self, values: dict[str, Any], kinds: dict[str, str]) -> None:
        """Take the facts a completed request gave: the values ``memory.facts`` names (by default a
        value named ``name`` and every address), usable at once and written when the call ends."""
        if self._kept() is None or self.forgotten:
            return
        wanted = self.app.spec.memory.facts
        for key, value in values.items():
            keep = key in wanted if wanted is not None else (key == "name" or kinds.get(key) == "address")
            if not keep or key not in kinds or value in (None, ""):
                continue
            text = str(value)
            if key == "name":
                text = text.title() if text.islower() else text  # a free-text answer comes back lowercased
                self.name = text
            if self.facts.get(key) != text:
                self.facts[key] = self.learned[key] = text

    def context_lines(self) -> list[str]:
        """What the agent knows about the caller, for a language model's instructions."""
        lines: list[str] = []
        if self.name:
            lines.append(f"The caller is {self.name}; never ask them to spell their name.")
        facts = {k: v for k, v in self.facts.items() if k != "name"}
        if facts:
            kept = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in facts.items())
            lines.append(f"Kept from earlier calls: {kept}. Offer these back (\"same address as last time?\") rather than asking from scratch.")
        if self.summaries:
            lines.append("Their earlier calls, newest first: " + " | ".join(self.summaries) + ".")
        if self.open_issue is not None:
            lines.append(f"Still open from an earlier call: {self.open_issue.text}.")
        return lines

    async def close_issue(self) -> dict[str, Any]:
        """The open issue the caller confirmed they call about: closed, and its reference returned."""
        issue, self.open_issue = self.open_issue, None
        if issue is None:
            return {}
        if self.app.services.store is not None:
            await self.app.services.store.close_issue(issue.id)
            self.emit(ev.MemoryUpdated(action="issue_closed", detail=issue.text))
        ref: dict[str, Any] = json.loads(issue.ref or "{}")
        return ref

    async def forget(self) -> int:
        deleted = 0
        if self.app.services.store is not None and self.phone:
            deleted = await self.app.services.store.forget(self.phone)
        self.forgotten = True
        self.facts, self.learned, self.summaries = {}, {}, []
        self.emit(ev.MemoryUpdated(action="forgotten", detail=f"{deleted} records deleted"))
        return int(deleted)

    async def close(self, call_id: str, now: datetime) -> None:
        """Remember this call: a summary, and an open issue for anything that follows up."""
        kept = self._kept()
        if kept is None or self.forgotten:
            return
        store, phone = kept
        summary = "; ".join(self.done) or "called without a request"
        with anyio.CancelScope(shield=True):
            if "name" in self.learned:
                await store.upsert_caller(phone, self.learned["name"])
            for key, value in self.learned.items():
                await store.set_fact(phone, key, value)
                self.emit(ev.MemoryUpdated(action="fact", detail=key))
            await store.add_summary(phone, call_id, summary, now)
            self.emit(ev.MemoryUpdated(action="summary", detail=summary))
            for topic, ref in self.follow_ups:
                await store.open_issue(phone, topic, json.dumps(ref))
                self.emit(ev.MemoryUpdated(action="issue_opened", detail=topic))
