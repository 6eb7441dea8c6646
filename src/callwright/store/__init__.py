"""What Callwright keeps between calls: callers and their memory, tool side effects, SMS, jobs.

    store = await open_store("sqlite:///.callwright/callwright.db")   # embedded default
    store = await open_store("postgresql://user@db/callwright")         # scale-out
    caller = await store.upsert_caller("+15551234567", "Ada")

The contract is :class:`Store` in ``base.py``; one test suite runs against both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ..clock import Clock, MonotonicClock
from ..errors import ConfigError
from .base import (
    Caller,
    CallSummary,
    Issue,
    Job,
    JobStatus,
    Message,
    MessageStatus,
    MigrationError,
    Store,
    StoreError,
    ToolClaim,
    redact,
)
from .migrations import MIGRATIONS, Migration

__all__ = [
    "MIGRATIONS",
    "CallSummary",
    "Caller",
    "Issue",
    "Job",
    "JobStatus",
    "Message",
    "MessageStatus",
    "Migration",
    "MigrationError",
    "Store",
    "StoreError",
    "ToolClaim",
    "open_store",
    "sqlite_path",
]


def sqlite_path(url: str, *, what: str = "store") -> str:
    """The file a ``sqlite:`` URL names: ``sqlite:///rel/path.db`` is relative to the working folder,
    ``sqlite:////abs/path.db`` absolute; ``sqlite://:memory:`` is an in-memory database."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(f"{what} URL {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return rest[1:]


async def open_store(url: str, *, clock: Clock | None = None, migrate: bool = True) -> Store:
    """Open the store ``url`` names and (unless ``migrate=False``) bring its schema up to date.

    ``sqlite:///path.db`` (parent folders are created), ``sqlite://:memory:``, or
    ``postgresql://...``; a ``?schema=name`` query parameter on a PostgreSQL URL keeps every table
    in that schema, created if missing. ``clock`` gives the times the store records.
    """
    wall = (clock or MonotonicClock()).wall

    def now() -> datetime:
        return datetime.fromtimestamp(wall(), UTC)

    store: Store
    if url.startswith("sqlite:"):
        from .sqlite import SqliteStore

        store = await SqliteStore.connect(sqlite_path(url), now)
    elif url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        dsn, schema = _split_schema(url)
        store = await PostgresStore.connect(dsn, schema, now)
    else:
        raise ConfigError(f"store URL {redact(url)!r}: expected sqlite:///path.db, sqlite://:memory: or postgresql://...")
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take ``schema`` out of the query string (asyncpg would send it to the server as a setting)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    schemas = query.pop("schema", [])
    if len(schemas) > 1 or (schemas and not schemas[0]):
        raise ConfigError(f"store URL {redact(url)!r}: give one non-empty ?schema=")
    dsn = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    return dsn, schemas[0] if schemas else None
