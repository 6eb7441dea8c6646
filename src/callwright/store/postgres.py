"""The scale-out store: PostgreSQL through an asyncpg pool.

Every statement that must be atomic is one statement (``INSERT ... ON CONFLICT``, ``UPDATE ...
RETURNING``), so concurrent workers on many machines agree without explicit locks. ``schema``
puts every table in one PostgreSQL schema (created if missing), which lets tests and tenants
share a database without seeing each other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg import Record

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
    redact,
    utc,
)
from .migrations import MIGRATIONS, PERSONAL_COLUMNS, Migration, check_names


def _issue(row: Record) -> Issue:
    return Issue(row["id"], row["phone"], row["text"], row["ref"], row["opened_at"], row["closed_at"])


def _message(row: Record) -> Message:
    return Message(
        id=row["id"], dedupe_key=row["dedupe_key"], to=row["to_number"], body=row["body"], purpose=row["purpose"],
        status=row["status"], provider_id=row["provider_id"], error=row["error"], created_at=row["created_at"],
    )


def _job(row: Record) -> Job:
    return Job(
        id=row["id"], name=row["name"], payload=row["payload"], phone=row["phone"], status=row["status"],
        result=row["result"], error=row["error"], attempts=row["attempts"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _affected(status: str) -> int:
    """Rows touched, from a command tag such as ``DELETE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=dumps, decoder=json.loads, schema="pg_catalog")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _create_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
    except asyncpg.UniqueViolationError:
        pass  # another process created it at the same moment
    finally:
        await conn.close()


class PostgresStore:
    """Implements :class:`callwright.store.Store`. Open it with :func:`callwright.store.open_store`."""

    def __init__(self, pool: asyncpg.Pool, now: Callable[[], datetime]) -> None:
        self._pool = pool
        self._now = now

    @classmethod
    async def connect(cls, dsn: str, schema: str | None, now: Callable[[], datetime]) -> PostgresStore:
        settings = {}
        try:
            if schema:
                await _create_schema(dsn, schema)
                settings["search_path"] = _quote(schema)
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=10, server_settings=settings, init=_init_connection
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"cannot open the PostgreSQL store at {redact(dsn)}: {exc}; is the server up and the URL right?",
                retryable=True,
            ) from exc
        return cls(pool, now)

    async def close(self) -> None:
        await self._pool.close()

    def _utcnow(self) -> datetime:
        return utc(self._now())

    # lifecycle

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        todo = MIGRATIONS if migrations is None else migrations
        check_names(todo)
        applied = []
        async with self._pool.acquire() as conn:
            # One migrator per schema at a time; others wait, then find the work done.
            await conn.execute("SELECT pg_advisory_lock(hashtext(current_schema()))")
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
                )
                done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
                for migration in todo:
                    if migration.name in done:
                        continue
                    try:
                        async with conn.transaction():
                            await conn.execute(migration.postgres)  # no arguments: several statements allowed
                            await conn.execute(
                                "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                                migration.name, self._utcnow(),
                            )
                    except asyncpg.PostgresError as exc:
                        raise MigrationError(f"migration {migration.name!r} failed and was rolled back: {exc}") from exc
                    applied.append(migration.name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext(current_schema()))")
        return applied

    # callers and memory

    async def get_caller(self, phone: str) -> Caller | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM callers WHERE phone = $1", phone)
            if row is None:
                return None
            facts = await conn.fetch("SELECT key, value FROM caller_facts WHERE phone = $1 ORDER BY key", phone)
        return Caller(row["phone"], row["name"], {f["key"]: f["value"] for f in facts}, row["created_at"], row["calls"])

    async def upsert_caller(self, phone: str, name: str | None = None) -> Caller:
        await self._pool.execute(
            "INSERT INTO callers (phone, name, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (phone) DO UPDATE SET name = COALESCE(excluded.name, callers.name)",
            phone, name, self._utcnow(),
        )
        caller = await self.get_caller(phone)
        assert caller is not None
        return caller

    async def set_fact(self, phone: str, key: str, value: str) -> None:
        now = self._utcnow()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_ENSURE_CALLER, phone, now)
            await conn.execute(
                "INSERT INTO caller_facts (phone, key, value, updated_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (phone, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                phone, key, value, now,
            )

    async def count_call(self, phone: str) -> None:
        await self._pool.execute(
            "INSERT INTO callers (phone, calls, created_at) VALUES ($1, 1, $2) "
            "ON CONFLICT (phone) DO UPDATE SET calls = callers.calls + 1",
            phone, self._utcnow(),
        )

    async def open_issue(self, phone: str, text: str, ref: str | None = None) -> Issue:
        row = await self._pool.fetchrow(
            "INSERT INTO issues (phone, text, ref, opened_at) VALUES ($1, $2, $3, $4) RETURNING *",
            phone, text, ref, self._utcnow(),
        )
        return _issue(row)

    async def close_issue(self, issue_id: int) -> None:
        status = await self._pool.execute("UPDATE issues SET closed_at = $1 WHERE id = $2", self._utcnow(), issue_id)
        if not _affected(status):
            raise StoreError(f"no issue with id {issue_id}")

    async def open_issues(self, phone: str) -> list[Issue]:
        rows = await self._pool.fetch("SELECT * FROM issues WHERE phone = $1 AND closed_at IS NULL ORDER BY id", phone)
        return [_issue(row) for row in rows]

    async def add_summary(self, phone: str, call_id: str, summary: str, at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO call_summaries (phone, call_id, summary, at) VALUES ($1, $2, $3, $4)",
            phone, call_id, summary, utc(at),
        )

    async def summaries(self, phone: str, limit: int = 3) -> list[CallSummary]:
        rows = await self._pool.fetch(
            "SELECT * FROM call_summaries WHERE phone = $1 ORDER BY at DESC, seq DESC LIMIT $2", phone, limit
        )
        return [CallSummary(r["phone"], r["call_id"], r["summary"], r["at"]) for r in rows]

    async def forget(self, phone: str) -> int:
        deleted = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for table, column in PERSONAL_COLUMNS:
                deleted += _affected(await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", phone))
        return deleted

    # tool side effects

    async def claim_tool(self, key: str, name: str, arguments: dict[str, Any], phone: str | None) -> ToolClaim:
        while True:
            status = await self._pool.execute(
                "INSERT INTO tool_results (key, name, arguments, phone, status, claimed_at) "
                "VALUES ($1, $2, $3, $4, 'running', $5) ON CONFLICT (key) DO NOTHING",
                key, name, arguments, phone, self._utcnow(),
            )
            if _affected(status):
                return ToolClaim("new")
            row = await self._pool.fetchrow("SELECT status, result FROM tool_results WHERE key = $1", key)
            if row is not None:
                return ToolClaim(row["status"], row["result"])
            # The claim we collided with was given up (finish_tool with an error) in between: try again.

    async def finish_tool(self, key: str, status: str, result: Any) -> None:
        check_status(status, TOOL_OUTCOMES, "tool")
        if status == "ok":
            await self._pool.execute(
                "UPDATE tool_results SET status = 'done', result = $1, finished_at = $2 WHERE key = $3",
                result, self._utcnow(), key,
            )
        else:
            await self._pool.execute("DELETE FROM tool_results WHERE key = $1", key)

    # SMS outbox

    async def add_message(self, dedupe_key: str, to: str, body: str, purpose: str) -> tuple[Message, bool]:
        now = self._utcnow()
        row = await self._pool.fetchrow(
            "INSERT INTO messages (id, dedupe_key, to_number, body, purpose, status, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 'stored', $6, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
            str(uuid.uuid4()), dedupe_key, to, body, purpose, now,
        )
        if row is not None:
            return _message(row), True
        # Messages are never deleted except by forget(), so the row that won the conflict is there.
        row = await self._pool.fetchrow("SELECT * FROM messages WHERE dedupe_key = $1", dedupe_key)
        if row is None:
            raise StoreError(f"message {dedupe_key!r} was deleted while it was being stored")
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
        row = await self._pool.fetchrow(
            "UPDATE messages SET status = $2, provider_id = COALESCE($3, provider_id), error = $4, updated_at = $5 "
            "WHERE id = $1 AND ($6::text[] IS NULL OR status = ANY($6::text[])) RETURNING *",
            message_id, status, provider_id, error, self._utcnow(), None if only_from is None else list(only_from),
        )
        if row is not None:
            return _message(row)
        if await self._pool.fetchval("SELECT 1 FROM messages WHERE id = $1", message_id) is None:
            raise StoreError(f"no message with id {message_id!r}")
        return None

    async def messages(self, to: str | None = None, limit: int = 50) -> list[Message]:
        rows = await self._pool.fetch(
            "SELECT * FROM messages WHERE ($1::text IS NULL OR to_number = $1) ORDER BY created_at DESC, seq DESC LIMIT $2",
            to, limit,
        )
        return [_message(row) for row in rows]

    # job ledger

    async def add_job(self, job_id: str, name: str, payload: dict[str, Any], phone: str | None) -> bool:
        status = await self._pool.execute(
            "INSERT INTO jobs (id, name, payload, phone, status, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, 'queued', $5, $5) ON CONFLICT (id) DO NOTHING",
            job_id, name, payload, phone, self._utcnow(),
        )
        return bool(_affected(status))

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._pool.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return None if row is None else _job(row)

    async def set_job(self, job_id: str, status: str, result: Any = None, error: str | None = None) -> None:
        check_status(status, JOB_STATUSES, "job")
        changed = await self._pool.execute(
            "UPDATE jobs SET status = $2, result = $3, error = $4, updated_at = $5, "
            "attempts = attempts + (CASE WHEN $2 = 'running' THEN 1 ELSE 0 END) WHERE id = $1",
            job_id, status, result, error, self._utcnow(),
        )
        if not _affected(changed):
            raise StoreError(f"no job with id {job_id!r}")

    async def unfinished_jobs(self) -> list[Job]:
        rows = await self._pool.fetch("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id")
        return [_job(row) for row in rows]


_ENSURE_CALLER = "INSERT INTO callers (phone, created_at) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING"
