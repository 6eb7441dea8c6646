"""The store contract: the records it returns and the :class:`Store` protocol both backends implement.

One store holds what outlives a call: callers and what the agent remembers about them, the ledger
of tool side effects (so a retried call never repeats one), the SMS outbox and the job ledger.
Phone numbers are E.164 strings; every time is a timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from ..errors import CallwrightError

if TYPE_CHECKING:
    from .migrations import Migration

ClaimStatus = Literal["new", "running", "done"]
MessageStatus = Literal["stored", "sending", "sent", "failed"]
JobStatus = Literal["queued", "running", "done", "failed"]

MESSAGE_STATUSES: frozenset[str] = frozenset({"stored", "sending", "sent", "failed"})
JOB_STATUSES: frozenset[str] = frozenset({"queued", "running", "done", "failed"})
TOOL_OUTCOMES: frozenset[str] = frozenset({"ok", "error", "timeout", "cancelled"})


class StoreError(CallwrightError):
    """The store refused an operation (unknown id, invalid status) or its database failed."""

    category = "store"


class MigrationError(StoreError):
    """A migration failed; it was rolled back and the ones after it were not applied."""


@dataclass(frozen=True, slots=True)
class Caller:
    phone: str
    name: str | None
    facts: dict[str, str]
    created_at: datetime
    calls: int


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    phone: str
    text: str
    ref: str | None
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallSummary:
    phone: str
    call_id: str
    summary: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ToolClaim:
    """``new``: the caller now owns the side effect and must call ``finish_tool``. ``running``: an
    earlier attempt claimed it and has not finished (or crashed mid-way): do not repeat it.
    ``done``: it happened; ``result`` is what it returned."""

    status: ClaimStatus
    result: Any = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    dedupe_key: str
    to: str
    body: str
    purpose: str
    status: MessageStatus
    provider_id: str | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    name: str
    payload: dict[str, Any]
    phone: str | None
    status: JobStatus
    result: Any
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


class Store(Protocol):
    """What Callwright keeps between calls. :func:`callwright.store.open_store` gives one."""

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        """Apply the migrations not applied yet (default: all of Callwright's), each in its own
        transaction, in order; return the names applied now. A failing one raises
        :class:`MigrationError` and leaves the database as it was before it."""
        ...

    async def close(self) -> None: ...

    # callers and memory
    async def get_caller(self, phone: str) -> Caller | None: ...
    async def upsert_caller(self, phone: str, name: str | None = None) -> Caller:
        """Create the caller, or set its name (``None`` keeps the name it had)."""
        ...
    async def set_fact(self, phone: str, key: str, value: str) -> None:
        """Remember ``key = value`` about the caller (creating the caller if needed)."""
        ...
    async def count_call(self, phone: str) -> None:
        """One more call from this number (creating the caller if needed)."""
        ...
    async def open_issue(self, phone: str, text: str, ref: str | None = None) -> Issue: ...
    async def close_issue(self, issue_id: int) -> None: ...
    async def open_issues(self, phone: str) -> list[Issue]: ...
    async def add_summary(self, phone: str, call_id: str, summary: str, at: datetime) -> None: ...
    async def summaries(self, phone: str, limit: int = 3) -> list[CallSummary]:
        """The latest call summaries, newest first."""
        ...
    async def forget(self, phone: str) -> int:
        """Delete everything about ``phone``: the caller, facts, issues, summaries, messages to it,
        tool results and jobs for it. Returns the number of rows deleted."""
        ...

    # tool side effects, exactly once
    async def claim_tool(self, key: str, name: str, arguments: dict[str, Any], phone: str | None) -> ToolClaim:
        """Atomically claim ``key``: exactly one of any number of concurrent claims gets ``new``."""
        ...
    async def finish_tool(self, key: str, status: str, result: Any) -> None:
        """Record how a claimed tool call ended. ``ok`` stores ``result`` (later claims replay it);
        ``error``, ``timeout`` and ``cancelled`` delete the claim, because the side effect did not
        happen as far as we know, so a retry may run it again. A claim that is gone is ignored."""
        ...

    # SMS outbox
    async def add_message(self, dedupe_key: str, to: str, body: str, purpose: str) -> tuple[Message, bool]:
        """Store an SMS (status ``stored``). The same ``dedupe_key`` never makes a second row: the
        existing message is returned with ``False``."""
        ...
    async def mark_message(
        self,
        message_id: str,
        status: str,
        provider_id: str | None = None,
        error: str | None = None,
        *,
        only_from: Collection[str] | None = None,
    ) -> Message | None:
        """Set a message's status. With ``only_from``, only if its status is one of those (a
        compare-and-set: ``None`` when it was not). Raises :class:`StoreError` for an unknown id."""
        ...
    async def messages(self, to: str | None = None, limit: int = 50) -> list[Message]:
        """Messages (to one number, or all), newest first."""
        ...

    # job ledger
    async def add_job(self, job_id: str, name: str, payload: dict[str, Any], phone: str | None) -> bool:
        """Record a queued job; ``False`` if ``job_id`` was already recorded (nothing changes)."""
        ...
    async def get_job(self, job_id: str) -> Job | None: ...
    async def set_job(self, job_id: str, status: str, result: Any = None, error: str | None = None) -> None:
        """Set a job's status, result and error; ``running`` also counts an attempt."""
        ...
    async def unfinished_jobs(self) -> list[Job]:
        """Jobs still ``queued`` or ``running``, oldest first (a restart re-enqueues them)."""
        ...


def check_status(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise StoreError(f"{what} status {value!r} is not one of {', '.join(sorted(allowed))}")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone; the store keeps UTC times")
    return moment.astimezone(UTC)


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
