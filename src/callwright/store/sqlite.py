"""The embedded store: one SQLite file in WAL mode, through aiosqlite.

One connection per store, and a lock around every operation: aiosqlite runs one statement at a
time anyway, and the lock keeps one coroutine's transaction from swallowing another's statements.
Writes take ``BEGIN IMMEDIATE`` so two processes sharing the file (the server and a job worker)
queue for the write lock (``busy_timeout``) instead of failing on a lock upgrade.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from ..clock import held
from .base import (
    JOB_STATUSES,
    MESSAGE_STATUSES,
    TOOL_OUTCOMES,
    Caller,
    CallSummary,
    Issue,
    Job,
    Message,
    MigrationError,
    StoreError,
    ToolClaim,
    check_status,
    dumps,
    loads,
    utc,
)
from .migrations import MIGRATIONS, PERSONAL_COLUMNS, Migration, check_names, statements

Row = sqlite3.Row


def _text(moment: datetime) -> str:
    """Fixed-width UTC ISO text, so times sort as strings."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _issue(row: Row) -> Issue:
    opened = datetime.fromisoformat(row["opened_at"])
    return Issue(row["id"], row["phone"], row["text"], row["ref"], opened, _time(row["closed_at"]))


def _message(row: Row) -> Message:
    return Message(
        id=row["id"], dedupe_key=row["dedupe_key"], to=row["to_number"], body=row["body"], purpose=row["purpose"],
        status=row["status"], provider_id=row["provider_id"], error=row["error"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _job(row: Row) -> Job:
    return Job(
        id=row["id"], name=row["name"], payload=loads(row["payload"]), phone=row["phone"], status=row["status"],
        result=loads(row["result"]), error=row["error"], attempts=row["attempts"],
        created_at=datetime.fromisoformat(row["created_at"]), updated_at=datetime.fromisoformat(row["updated_at"]),
    )


class SqliteStore:
    """Implements :class:`callwright.store.Store`. Open it with :func:`callwright.store.open_store`."""

    def __init__(self, db: aiosqlite.Connection, now: Callable[[], datetime]) -> None:
        self._db = db
        self._now = now
        self._lock = anyio.Lock()

    @classmethod
    async def connect(cls, path: str, now: Callable[[], datetime]) -> SqliteStore:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {path!r}: {exc}") from exc
        db.row_factory = sqlite3.Row
        try:
            await db.execute("PRAGMA busy_timeout = 10000")
            if path != ":memory:":
                await db.execute("PRAGMA journal_mode = WAL")
                await db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            await db.close()
            raise StoreError(f"cannot open the SQLite store {path!r}: {exc}; is it a SQLite database?") from exc
        return cls(db, now)

    async def close(self) -> None:
        await self._db.close()

    # plumbing

    async def _rows(self, sql: str, *args: Any) -> list[Row]:
        async with held(), self._lock:  # aiosqlite works in its own thread: a simulated call's clock waits for it
            return list(await self._db.execute_fetchall(sql, args))

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; rolled back if the block raises (or is cancelled)."""
        async with held(), self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                with anyio.CancelScope(shield=True):
                    if self._db.in_transaction:
                        await self._db.execute("ROLLBACK")
                raise
            with anyio.CancelScope(shield=True):
                await self._db.execute("COMMIT")

    async def _one(self, db: aiosqlite.Connection, sql: str, *args: Any) -> Row | None:
        async with db.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _count(self, db: aiosqlite.Connection, sql: str, *args: Any) -> int:
        async with db.execute(sql, args) as cursor:
            return cursor.rowcount

    # lifecycle

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        todo = MIGRATIONS if migrations is None else migrations
        check_names(todo)
        async with self._lock:
            await self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        applied = []
        for migration in todo:
            try:
                async with self._write() as db:
                    if await self._one(db, "SELECT 1 FROM schema_migrations WHERE name = ?", migration.name):
                        continue  # applied before, or just now by another process
                    for statement in statements(migration.sqlite):
                        await db.execute(statement)
                    await db.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                        (migration.name, _text(self._now())),
                    )
            except sqlite3.Error as exc:
                raise MigrationError(f"migration {migration.name!r} failed and was rolled back: {exc}") from exc
            applied.append(migration.name)
        return applied

    # callers and memory

    async def get_caller(self, phone: str) -> Caller | None:
        rows = await self._rows("SELECT * FROM callers WHERE phone = ?", phone)
        if not rows:
            return None
        facts = await self._rows("SELECT key, value FROM caller_facts WHERE phone = ? ORDER BY key", phone)
        row = rows[0]
        return Caller(
            row["phone"], row["name"], {f["key"]: f["value"] for f in facts},
            datetime.fromisoformat(row["created_at"]), row["calls"],
        )

    async def upsert_caller(self, phone: str, name: str | None = None) -> Caller:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO callers (phone, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (phone) DO UPDATE SET name = COALESCE(excluded.name, callers.name)",
                (phone, name, _text(self._now())),
            )
        caller = await self.get_caller(phone)
        assert caller is not None
        return caller

    async def set_fact(self, phone: str, key: str, value: str) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO callers (phone, created_at) VALUES (?, ?) ON CONFLICT (phone) DO NOTHING",
                (phone, _text(self._now())),
            )
            await db.execute(
                "INSERT INTO caller_facts (phone, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (phone, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (phone, key, value, _text(self._now())),
            )

    async def count_call(self, phone: str) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO callers (phone, calls, created_at) VALUES (?, 1, ?) "
                "ON CONFLICT (phone) DO UPDATE SET calls = callers.calls + 1",
                (phone, _text(self._now())),
            )

    async def open_issue(self, phone: str, text: str, ref: str | None = None) -> Issue:
        async with self._write() as db:
            row = await self._one(
                db, "INSERT INTO issues (phone, text, ref, opened_at) VALUES (?, ?, ?, ?) RETURNING *",
                phone, text, ref, _text(self._now()),
            )
        assert row is not None
        return _issue(row)

    async def close_issue(self, issue_id: int) -> None:
        async with self._write() as db:
            if not await self._count(db, "UPDATE issues SET closed_at = ? WHERE id = ?", _text(self._now()), issue_id):
                raise StoreError(f"no issue with id {issue_id}")

    async def open_issues(self, phone: str) -> list[Issue]:
        rows = await self._rows("SELECT * FROM issues WHERE phone = ? AND closed_at IS NULL ORDER BY id", phone)
        return [_issue(row) for row in rows]

    async def add_summary(self, phone: str, call_id: str, summary: str, at: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO call_summaries (phone, call_id, summary, at) VALUES (?, ?, ?, ?)",
                (phone, call_id, summary, _text(at)),
            )

    async def summaries(self, phone: str, limit: int = 3) -> list[CallSummary]:
        rows = await self._rows(
            "SELECT * FROM call_summaries WHERE phone = ? ORDER BY at DESC, seq DESC LIMIT ?", phone, limit
        )
        return [CallSummary(r["phone"], r["call_id"], r["summary"], datetime.fromisoformat(r["at"])) for r in rows]

    async def forget(self, phone: str) -> int:
        deleted = 0
        async with self._write() as db:
            for table, column in PERSONAL_COLUMNS:
                deleted += await self._count(db, f"DELETE FROM {table} WHERE {column} = ?", phone)
        return deleted

    # tool side effects

    async def claim_tool(self, key: str, name: str, arguments: dict[str, Any], phone: str | None) -> ToolClaim:
        async with self._write() as db:
            inserted = await self._count(
                db,
                "INSERT INTO tool_results (key, name, arguments, phone, status, claimed_at) "
                "VALUES (?, ?, ?, ?, 'running', ?) ON CONFLICT (key) DO NOTHING",
                key, name, dumps(arguments), phone, _text(self._now()),
            )
            if inserted:
                return ToolClaim("new")
            row = await self._one(db, "SELECT status, result FROM tool_results WHERE key = ?", key)
        assert row is not None  # same transaction as the conflicting insert
        return ToolClaim(row["status"], loads(row["result"]))

    async def finish_tool(self, key: str, status: str, result: Any) -> None:
        check_status(status, TOOL_OUTCOMES, "tool")
        async with self._write() as db:
            if status == "ok":
                await db.execute(
                    "UPDATE tool_results SET status = 'done', result = ?, finished_at = ? WHERE key = ?",
                    (dumps(result), _text(self._now()), key),
                )
            else:
                await db.execute("DELETE FROM tool_results WHERE key = ?", (key,))

    # SMS outbox

    async def add_message(self, dedupe_key: str, to: str, body: str, purpose: str) -> tuple[Message, bool]:
        now = _text(self._now())
        async with self._write() as db:
            row = await self._one(
                db,
                "INSERT INTO messages (id, dedupe_key, to_number, body, purpose, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'stored', ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
                str(uuid.uuid4()), dedupe_key, to, body, purpose, now, now,
            )
            if row is not None:
                return _message(row), True
            row = await self._one(db, "SELECT * FROM messages WHERE dedupe_key = ?", dedupe_key)
        assert row is not None
        return _message(row), False

    async def mark_message(
        self,
        message_id: str,
        status: str,
        provider_id: str | None = None,
        error: str | None = None,
        *,
        only_from: Collection[str] | None = None,
    ) -> Message | None:
        check_status(status, MESSAGE_STATUSES, "message")
        async with self._write() as db:
            row = await self._one(db, "SELECT status FROM messages WHERE id = ?", message_id)
            if row is None:
                raise StoreError(f"no message with id {message_id!r}")
            if only_from is not None and row["status"] not in only_from:
                return None
            row = await self._one(
                db,
                "UPDATE messages SET status = ?, provider_id = COALESCE(?, provider_id), error = ?, updated_at = ? "
                "WHERE id = ? RETURNING *",
                status, provider_id, error, _text(self._now()), message_id,
            )
        assert row is not None
        return _message(row)

    async def messages(self, to: str | None = None, limit: int = 50) -> list[Message]:
        where, args = ("WHERE to_number = ?", [to]) if to is not None else ("", [])
        rows = await self._rows(f"SELECT * FROM messages {where} ORDER BY created_at DESC, seq DESC LIMIT ?", *args, limit)
        return [_message(row) for row in rows]

    # job ledger

    async def add_job(self, job_id: str, name: str, payload: dict[str, Any], phone: str | None) -> bool:
        now = _text(self._now())
        async with self._write() as db:
            return bool(await self._count(
                db,
                "INSERT INTO jobs (id, name, payload, phone, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (id) DO NOTHING",
                job_id, name, dumps(payload), phone, now, now,
            ))

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._rows("SELECT * FROM jobs WHERE id = ?", job_id)
        return _job(rows[0]) if rows else None

    async def set_job(self, job_id: str, status: str, result: Any = None, error: str | None = None) -> None:
        check_status(status, JOB_STATUSES, "job")
        async with self._write() as db:
            changed = await self._count(
                db,
                "UPDATE jobs SET status = ?, result = ?, error = ?, updated_at = ?, "
                "attempts = attempts + (CASE WHEN ? = 'running' THEN 1 ELSE 0 END) WHERE id = ?",
                status, None if result is None else dumps(result), error, _text(self._now()), status, job_id,
            )
        if not changed:
            raise StoreError(f"no job with id {job_id!r}")

    async def unfinished_jobs(self) -> list[Job]:
        rows = await self._rows(
            "SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id"
        )
        return [_job(row) for row in rows]

