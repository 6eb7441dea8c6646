"""Where the job tests keep their queue and store: SQLite files, or Redis and PostgreSQL.

The servers are the real ones at 127.0.0.1 (Redis 6379, PostgreSQL 5432 database ``test``). Each
test gets its own huey queue name and PostgreSQL schema, removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Backend:
    queue_url: str
    store_url: str


@pytest.fixture(params=["sqlite", "redis+postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend(f"sqlite:///{tmp_path}/queue/jobs.db", f"sqlite:///{tmp_path}/store/callwright.db")
        return
    name = f"cw_jobs_{uuid.uuid4().hex[:12]}"
    yield Backend(f"{REDIS}?name={name}", f"{PG}?schema={name}")
    client = redis.Redis.from_url(REDIS)
    try:
        keys = list(client.scan_iter(f"huey.*{name}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Backend:
    return Backend(f"sqlite:///{tmp_path}/queue/jobs.db", f"sqlite:///{tmp_path}/store/callwright.db")
