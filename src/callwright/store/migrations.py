"""Named migrations, applied in order, each in its own transaction, recorded in ``schema_migrations``.

Both backends run the same list. A migration carries its SQL once per dialect, because the column
types differ (SQLite keeps times as fixed-width ISO text and JSON as text; PostgreSQL has
``timestamptz`` and ``jsonb``); everything else about applying it is shared. To change the schema,
append a migration: never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import MigrationError


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sqlite: str
    postgres: str


def statements(script: str) -> list[str]:
    """Split a migration script on ``;`` (our scripts have no semicolons inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def check_names(migrations: Sequence[Migration]) -> None:
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise MigrationError(f"migration names must be unique, got {names}")


_INITIAL = """
CREATE TABLE callers (
    phone TEXT PRIMARY KEY,
    name TEXT,
    calls INTEGER NOT NULL DEFAULT 0,
    created_at {time} NOT NULL
);
CREATE TABLE caller_facts (
    phone TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at {time} NOT NULL,
    PRIMARY KEY (phone, key)
);
CREATE TABLE issues (
    id {serial},
    phone TEXT NOT NULL,
    text TEXT NOT NULL,
    ref TEXT,
    opened_at {time} NOT NULL,
    closed_at {time}
);
CREATE INDEX issues_phone ON issues (phone);
CREATE TABLE call_summaries (
    seq {serial},
    phone TEXT NOT NULL,
    call_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    at {time} NOT NULL
);
CREATE INDEX call_summaries_phone_at ON call_summaries (phone, at);
CREATE TABLE tool_results (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    arguments {json} NOT NULL,
    phone TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'done')),
    result {json},
    claimed_at {time} NOT NULL,
    finished_at {time}
);
CREATE INDEX tool_results_phone ON tool_results (phone);
CREATE TABLE messages (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    dedupe_key TEXT NOT NULL UNIQUE,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('stored', 'sending', 'sent', 'failed')),
    provider_id TEXT,
    error TEXT,
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL
);
CREATE INDEX messages_to_number ON messages (to_number, created_at);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    payload {json} NOT NULL,
    phone TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    result {json},
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL
);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_phone ON jobs (phone)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_initial",
        sqlite=_INITIAL.format(time="TEXT", json="TEXT", serial="INTEGER PRIMARY KEY"),
        postgres=_INITIAL.format(time="TIMESTAMPTZ", json="JSONB", serial="BIGSERIAL PRIMARY KEY"),
    ),
)
"""Callwright's schema, oldest first."""

PERSONAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("callers", "phone"),
    ("caller_facts", "phone"),
    ("issues", "phone"),
    ("call_summaries", "phone"),
    ("messages", "to_number"),
    ("tool_results", "phone"),
    ("jobs", "phone"),
)
"""Every table that holds something about a phone number, and its column that says which: what
``forget`` deletes. A migration that adds such a table must add it here."""
