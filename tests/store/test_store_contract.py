"""The store contract: every test runs against a fresh SQLite file and a fresh PostgreSQL schema.

PostgreSQL is the real server at 127.0.0.1:5432 (database ``test``); each test gets its own schema,
dropped afterwards, so parallel runs do not collide.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from callwright.clock import VirtualClock
from callwright.errors import ConfigError
from callwright.store import MIGRATIONS, Migration, MigrationError, Store, StoreError, open_store

PG = "postgresql://postgres@127.0.0.1:5432/test"
Opener = Callable[..., Awaitable[Store]]
ADA = "+15550100001"
BOB = "+15550100002"


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store/callwright.db"
        return
    schema = f"cw_store_{uuid.uuid4().hex[:12]}"
    yield f"{PG}?schema={schema}"
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def opener(store_url: str) -> AsyncIterator[Opener]:
    """``await opener(**kw)``: open the test's store; every store opened is closed at the end."""
    opened: list[Store] = []

    async def open_(**kw: Any) -> Store:
        store = await open_store(store_url, **kw)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(opener: Opener) -> Store:
    return await opener()


# lifecycle and migrations


async def test_migrate_is_idempotent(opener: Opener) -> None:
    store = await opener(migrate=False)
    assert await store.migrate() == ["0001_initial"]
    assert await store.migrate() == []
    again = await opener()  # a second process opening the same database
    assert await again.migrate() == []


async def test_failing_migration_rolls_back_and_stops(store: Store) -> None:
    probe = "CREATE TABLE probe (x INTEGER)"
    bad = Migration("0002_bad", sqlite=f"{probe}; INSERT INTO no_such_table VALUES (1)",
                    postgres=f"{probe}; INSERT INTO no_such_table VALUES (1)")
    after = Migration("0003_after", sqlite="CREATE TABLE after_bad (x INTEGER)", postgres="CREATE TABLE after_bad (x INTEGER)")
    with pytest.raises(MigrationError, match="0002_bad"):
        await store.migrate([*MIGRATIONS, bad, after])
    # Had 0002_bad left its table behind, creating it again would fail; 0003 never ran either.
    fixed = Migration("0002_probe", sqlite=probe, postgres=probe)
    assert await store.migrate([*MIGRATIONS, fixed, after]) == ["0002_probe", "0003_after"]
    assert await store.migrate([*MIGRATIONS, fixed, after]) == []


async def test_duplicate_migration_names_are_refused(store: Store) -> None:
    with pytest.raises(MigrationError, match="unique"):
        await store.migrate([*MIGRATIONS, MIGRATIONS[0]])


async def test_open_store_refuses_unknown_urls() -> None:
    for url in ("mysql://x/y", "sqlite:relative.db", "sqlite://"):
        with pytest.raises(ConfigError, match="store URL"):
            await open_store(url)


async def test_unreachable_or_broken_stores_say_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open the PostgreSQL store at postgresql://postgres:\*\*\*@") as info:
        await open_store("postgresql://postgres:hunter2@127.0.0.1:1/test")
    assert info.value.retryable and "hunter2" not in str(info.value)
    garbage = tmp_path / "not-a-db.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        await open_store(f"sqlite:///{garbage}")


async def test_sqlite_relative_path_creates_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///data/nested/cw.db")
    try:
        await store.upsert_caller(ADA)
    finally:
        await store.close()
    assert (tmp_path / "data" / "nested" / "cw.db").is_file()


async def test_sqlite_in_memory() -> None:
    store = await open_store("sqlite://:memory:")
    try:
        assert (await store.upsert_caller(ADA, "Ada")).name == "Ada"
    finally:
        await store.close()


# callers and memory


async def test_callers_and_facts(store: Store) -> None:
    assert await store.get_caller(ADA) is None
    ada = await store.upsert_caller(ADA)
    assert (ada.phone, ada.name, ada.facts, ada.calls) == (ADA, None, {}, 0)
    assert ada.created_at.tzinfo is not None and ada.created_at.utcoffset() == timedelta(0)
    assert (await store.upsert_caller(ADA, "Ada")).name == "Ada"
    assert (await store.upsert_caller(ADA)).name == "Ada"  # None keeps the name
    await store.set_fact(ADA, "dog", "Rex")
    await store.set_fact(ADA, "dog", "Fido")
    await store.set_fact(ADA, "city", "Leeds")
    await store.count_call(ADA)
    await store.count_call(ADA)
    got = await store.get_caller(ADA)
    assert got is not None
    assert got.facts == {"city": "Leeds", "dog": "Fido"}
    assert got.calls == 2
    assert got.created_at == ada.created_at


async def test_facts_and_calls_create_the_caller(store: Store) -> None:
    await store.set_fact(ADA, "plan", "gold")
    await store.count_call(BOB)
    ada, bob = await store.get_caller(ADA), await store.get_caller(BOB)
    assert ada is not None and ada.facts == {"plan": "gold"} and ada.calls == 0
    assert bob is not None and bob.calls == 1 and bob.facts == {}


async def test_issues(store: Store) -> None:
    first = await store.open_issue(ADA, "Router keeps dropping", ref="T-1")
    second = await store.open_issue(ADA, "Wrong bill")
    await store.open_issue(BOB, "Someone else's")
    assert (first.phone, first.text, first.ref, first.closed_at) == (ADA, "Router keeps dropping", "T-1", None)
    assert second.ref is None and second.id != first.id
    assert [i.id for i in await store.open_issues(ADA)] == [first.id, second.id]
    await store.close_issue(first.id)
    assert [i.text for i in await store.open_issues(ADA)] == ["Wrong bill"]
    with pytest.raises(StoreError, match="no issue"):
        await store.close_issue(999_999)


async def test_summaries_newest_first(store: Store) -> None:
    t0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    for n in range(5):
        await store.add_summary(ADA, f"call-{n}", f"summary {n}", t0 + timedelta(days=n))
    await store.add_summary(BOB, "call-b", "other caller", t0)
    got = await store.summaries(ADA)
    assert [s.call_id for s in got] == ["call-4", "call-3", "call-2"]
    assert got[0].at == t0 + timedelta(days=4) and got[0].summary == "summary 4"
    assert len(await store.summaries(ADA, limit=10)) == 5
    with pytest.raises(StoreError, match="timezone"):
        await store.add_summary(ADA, "naive", "no zone", datetime(2025, 1, 1))


async def test_forget_deletes_everything_about_a_number(store: Store) -> None:
    for phone in (ADA, BOB):
        await store.upsert_caller(phone, "x")
        await store.set_fact(phone, "a", "1")
        await store.set_fact(phone, "b", "2")
        await store.open_issue(phone, "issue")
        await store.add_summary(phone, "c", "s", datetime.now(UTC))
        await store.add_message(f"m:{phone}", phone, "hi", "test")
        await store.claim_tool(f"k:{phone}", "book", {}, phone)
        await store.add_job(f"j:{phone}", "lookup", {}, phone)
    # callers 1 + facts 2 + issue 1 + summary 1 + message 1 + tool 1 + job 1
    assert await store.forget(ADA) == 8
    assert await store.get_caller(ADA) is None
    assert await store.open_issues(ADA) == [] and await store.summaries(ADA) == []
    assert await store.messages(ADA) == [] and await store.get_job(f"j:{ADA}") is None
    assert (await store.claim_tool(f"k:{ADA}", "book", {}, ADA)).status == "new"  # the old claim is gone
    assert await store.forget(ADA) == 1  # only the claim just made
    bob = await store.get_caller(BOB)
    assert bob is not None and bob.facts == {"a": "1", "b": "2"}
    assert len(await store.messages(BOB)) == 1 and await store.get_job(f"j:{BOB}") is not None


# tool side effects


async def test_tool_claim_lifecycle(store: Store) -> None:
    assert (await store.claim_tool("k1", "book", {"day": "mon"}, ADA)).status == "new"
    assert (await store.claim_tool("k1", "book", {"day": "mon"}, ADA)).status == "running"
    await store.finish_tool("k1", "ok", {"booking": "B-7", "slots": [1, 2]})
    claim = await store.claim_tool("k1", "book", {"day": "mon"}, ADA)
    assert (claim.status, claim.result) == ("done", {"booking": "B-7", "slots": [1, 2]})


@pytest.mark.parametrize("outcome", ["error", "timeout", "cancelled"])
async def test_failed_tool_may_run_again(store: Store, outcome: str) -> None:
    assert (await store.claim_tool("k2", "book", {}, None)).status == "new"
    await store.finish_tool("k2", outcome, None)
    assert (await store.claim_tool("k2", "book", {}, None)).status == "new"


async def test_tool_outcome_must_be_known(store: Store) -> None:
    await store.claim_tool("k3", "book", {}, None)
    with pytest.raises(StoreError, match="tool status 'weird'"):
        await store.finish_tool("k3", "weird", None)
    await store.finish_tool("gone", "ok", 1)  # a claim that no longer exists is ignored


async def test_concurrent_claims_exactly_one_new(store: Store) -> None:
    claims: list[str] = []

    async def claim() -> None:
        claims.append((await store.claim_tool("race", "charge_card", {"cents": 500}, ADA)).status)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(claim)
    assert sorted(claims) == ["new"] + ["running"] * 19


# SMS outbox


async def test_messages_dedupe_and_status(store: Store) -> None:
    message, created = await store.add_message("job:1", ADA, "Your order is ready", "job")
    assert created and message.status == "stored" and message.provider_id is None
    again, created_again = await store.add_message("job:1", ADA, "different body", "job")
    assert not created_again and again == message
    sending = await store.mark_message(message.id, "sending", only_from=("stored", "failed"))
    assert sending is not None and sending.status == "sending"
    assert await store.mark_message(message.id, "sending", only_from=("stored", "failed")) is None
    failed = await store.mark_message(message.id, "failed", error="HTTP 500")
    assert failed is not None and (failed.status, failed.error) == ("failed", "HTTP 500")
    sent = await store.mark_message(message.id, "sent", provider_id="SM123")
    assert sent is not None and (sent.status, sent.provider_id, sent.error) == ("sent", "SM123", None)
    with pytest.raises(StoreError, match="message status"):
        await store.mark_message(message.id, "lost")
    with pytest.raises(StoreError, match="no message"):
        await store.mark_message(str(uuid.uuid4()), "sent")


async def test_messages_newest_first(opener: Opener) -> None:
    clock = VirtualClock()
    store = await opener(clock=clock)
    for n in range(4):
        await store.add_message(f"k{n}", ADA if n % 2 == 0 else BOB, f"body {n}", "test")
        if n < 2:
            clock.advance(1.0)  # the last two share one timestamp: insertion order breaks the tie
    assert [m.body for m in await store.messages()] == ["body 3", "body 2", "body 1", "body 0"]
    assert [m.body for m in await store.messages(ADA)] == ["body 2", "body 0"]
    assert [m.body for m in await store.messages(limit=1)] == ["body 3"]
    first = (await store.messages(limit=10))[-1]
    assert first.created_at == datetime.fromtimestamp(1_700_000_000.0, UTC)


async def test_concurrent_messages_one_row(store: Store) -> None:
    created: list[bool] = []

    async def add() -> None:
        created.append((await store.add_message("once", ADA, "hello", "test"))[1])

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(add)
    assert sorted(created) == [False] * 19 + [True]
    assert len(await store.messages(ADA)) == 1


# job ledger


async def test_job_ledger(store: Store) -> None:
    assert await store.get_job("j1") is None
    assert await store.add_job("j1", "lookup_order", {"order": "A-1"}, ADA)
    assert not await store.add_job("j1", "other", {}, None)
    await store.add_job("j2", "report", {}, None)
    job = await store.get_job("j1")
    assert job is not None
    assert (job.name, job.payload, job.phone, job.status, job.attempts) == ("lookup_order", {"order": "A-1"}, ADA, "queued", 0)
    assert [j.id for j in await store.unfinished_jobs()] == ["j1", "j2"]
    await store.set_job("j1", "running")
    await store.set_job("j1", "queued", error="boom")
    await store.set_job("j1", "running")
    await store.set_job("j1", "done", result={"eta": "Tuesday"})
    job = await store.get_job("j1")
    assert job is not None
    assert (job.status, job.result, job.error, job.attempts) == ("done", {"eta": "Tuesday"}, None, 2)
    assert job.updated_at >= job.created_at
    await store.set_job("j2", "failed", error="no such report")
    assert await store.unfinished_jobs() == []
    failed = await store.get_job("j2")
    assert failed is not None and (failed.status, failed.error, failed.result) == ("failed", "no such report", None)
    with pytest.raises(StoreError, match="no job"):
        await store.set_job("nope", "done")
    with pytest.raises(StoreError, match="job status"):
        await store.set_job("j1", "finished")
