"""The durable job queue on real backends: SQLite files, or Redis (queue) with PostgreSQL (store).

The restart tests run the queue in a separate Python process, kill it with SIGKILL, and let a second
process finish the job from the same queue and store.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
import pytest
import redis
from job_handlers import FAST, HANDLERS, PHONE

from callwright.errors import ConfigError
from callwright.jobs import JobError, JobQueue
from callwright.store import Job, Message, Store, open_store

if TYPE_CHECKING:
    from conftest import Backend

HELPER = Path(__file__).with_name("job_handlers.py")
ADA = "+15550100001"


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Store]:
    store = await open_store(url)
    try:
        yield store
    finally:
        await store.close()


async def job_messages(backend: Backend, job_id: str) -> list[Message]:
    async with opened(backend.store_url) as store:
        return [m for m in await store.messages(limit=1000) if m.dedupe_key == f"job:{job_id}"]


async def test_job_completes_with_one_sms(backend: Backend) -> None:
    with JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS) as jobs:
        assert await jobs.submit("ready", {"order": "A-17"}, job_id="j-1", phone=ADA) == "j-1"
        job = await jobs.wait("j-1", timeout=10)
    assert (job.status, job.result, job.attempts, job.error) == ("done", "Order A-17 is ready for pickup.", 1, None)
    [message] = await job_messages(backend, "j-1")
    assert (message.to, message.body, message.status, message.purpose) == (ADA, job.result, "stored", "job ready")


async def test_same_job_id_twice_sends_one_sms(backend: Backend) -> None:
    with JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS, workers=2) as jobs:
        await jobs.submit("ready", {"order": "B-2"}, job_id="j-2", phone=ADA)
        await jobs.submit("ready", {"order": "B-2"}, job_id="j-2", phone=ADA)
        first = await jobs.wait("j-2", timeout=10)
    # After it finished, too. One worker takes jobs in the order they were queued, so once a job
    # submitted after the repeat is done, the repeat, had it been queued, has run too.
    with JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS, workers=1) as jobs:
        await jobs.submit("ready", {"order": "B-2"}, job_id="j-2", phone=ADA)
        await jobs.submit("ready", {"order": "B-3"}, job_id="j-2-after", phone=ADA)
        assert (await jobs.wait("j-2-after", timeout=10)).status == "done"
        assert await jobs.wait("j-2", timeout=1) == first
    assert first.attempts == 1
    assert len(await job_messages(backend, "j-2")) == 1


async def test_job_without_phone_sends_nothing(sqlite_backend: Backend) -> None:
    with JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers=HANDLERS) as jobs:
        await jobs.submit("ready", {"order": "C-3"}, job_id="j-3", phone=None)
        job = await jobs.wait("j-3", timeout=10)
    assert job.status == "done"
    async with opened(sqlite_backend.store_url) as store:
        assert await store.messages() == []


async def test_flaky_handler_is_retried_then_texts_once(sqlite_backend: Backend) -> None:
    calls: list[dict[str, Any]] = []

    async def flaky(payload: dict[str, Any]) -> str:
        calls.append(payload)
        if len(calls) == 1:
            raise ConnectionError("inventory service timed out")
        return "Your refund went through."

    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url,
                     handlers={"refund": flaky}, retry_delay=0)
    with queue as jobs:
        await jobs.submit("refund", {"amount": 12}, job_id="j-4", phone=ADA)
        job = await jobs.wait("j-4", timeout=10)
    assert (job.status, job.attempts, job.result) == ("done", 2, "Your refund went through.")
    assert calls == [{"amount": 12}, {"amount": 12}]
    assert len(await job_messages(sqlite_backend, "j-4")) == 1


async def test_failing_job_fails_after_its_retries_and_texts_nothing(backend: Backend) -> None:
    async def broken(payload: dict[str, Any]) -> str:
        raise ValueError(f"no report called {payload['report']!r}")

    queue = JobQueue(queue_url=backend.queue_url, store_url=backend.store_url,
                     handlers={"report": broken}, retries=2, retry_delay=0)
    with queue as jobs:
        await jobs.submit("report", {"report": "Q9"}, job_id="j-5", phone=ADA)
        job = await jobs.wait("j-5", timeout=10)
    assert (job.status, job.attempts) == ("failed", 3)
    assert job.error == "ValueError: no report called 'Q9'"
    assert await job_messages(backend, "j-5") == []


async def test_unknown_job_name_fails_at_once(sqlite_backend: Backend) -> None:
    with JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers=HANDLERS) as jobs:
        await jobs.submit("teleport", {}, job_id="j-6", phone=ADA)
        job = await jobs.wait("j-6", timeout=10)
    assert (job.status, job.attempts) == ("failed", 0)
    assert job.error is not None and "no handler for job 'teleport'" in job.error


async def test_handlers_can_be_a_lookup_function(sqlite_backend: Backend) -> None:
    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers=HANDLERS.__getitem__)
    with queue as jobs:
        await jobs.submit("ready", {"order": "D-4"}, job_id="j-7", phone=ADA)
        assert (await jobs.wait("j-7", timeout=10)).status == "done"


async def test_wait_times_out_and_unknown_jobs(sqlite_backend: Backend) -> None:
    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers=HANDLERS)
    try:
        await queue.submit("ready", {"order": "E-5"}, job_id="j-8", phone=ADA)  # no workers started
        with pytest.raises(JobError, match=r"still queued after 0\.2 s"):
            await queue.wait("j-8", timeout=0.2)
        with pytest.raises(JobError, match="never submitted"):
            await queue.wait("nope", timeout=1)
    finally:
        queue.stop()  # closes the store submit and wait opened


def store_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("callwright-jobs") and t.name.endswith("store")]


async def test_the_queue_opens_its_stores_once(backend: Backend) -> None:
    """Not one store (an asyncpg pool, and migrations) per submit, wait and job: one for submit, wait
    and recovery, and one per worker thread, all closed by stop."""
    queue = JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS, workers=1)
    with queue as jobs:
        for n in range(3):
            await jobs.submit("ready", {"order": f"F-{n}"}, job_id=f"once-{n}", phone=ADA)
            assert (await jobs.wait(f"once-{n}", timeout=10)).status == "done"
        assert queue.store_opens == 2
        assert len(store_threads()) == 2
    assert store_threads() == []
    try:
        assert (await queue.wait("once-0", timeout=1)).status == "done"  # after stop: opened again, at first use
        assert queue.store_opens == 3
    finally:
        queue.stop()
    assert store_threads() == []


async def test_stop_is_bounded_while_a_job_runs(sqlite_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """``stop`` gives a running job its ``timeout`` and no more: it returns while the job still runs (its
    handler waits for an event this test sets only after ``stop`` has returned), says which worker it
    abandoned, and that worker still finishes the job. Nothing here measures elapsed time: joining
    real threads takes real time, so ``stop``'s timeout is real, and a ``stop`` that waited for the job
    would have returned only once the handler gave up (30 s), with the job no longer running."""
    release = threading.Event()

    async def stuck(payload: dict[str, Any]) -> str:
        released = await anyio.to_thread.run_sync(release.wait, 30)
        return "finally" if released else "gave up waiting"

    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers={"stuck": stuck})
    queue.start()
    await queue.submit("stuck", {}, job_id="j-9", phone=ADA)
    await wait_for_status(sqlite_backend, "j-9", "running")
    with caplog.at_level(logging.WARNING, logger="callwright.jobs"):
        queue.stop(timeout=0.5)
    async with opened(sqlite_backend.store_url) as store:
        job = await store.get_job("j-9")
    assert job is not None and job.status == "running"  # stop returned without waiting for the job
    assert [r.getMessage() for r in caplog.records if r.name == "callwright.jobs"] == [
        "job queue stopped with ['callwright-jobs-1'] still running; their jobs resume on the next start"
    ]
    release.set()  # the abandoned worker thread still finishes its job
    assert (await wait_for_status(sqlite_backend, "j-9", "done")).result == "finally"


async def test_queue_restarts_in_process(sqlite_backend: Backend) -> None:
    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url, handlers=HANDLERS)
    for n in range(2):
        with queue:
            await queue.submit("ready", {"order": n}, job_id=f"again-{n}", phone=ADA)
            assert (await queue.wait(f"again-{n}", timeout=10)).status == "done"
    with queue, pytest.raises(JobError, match="already running"):
        queue.start()


@contextmanager
def queue_storage_broken(backend: Backend) -> Iterator[None]:
    """Every read of the huey queue fails until the block ends: its SQLite table renamed away, or its
    Redis list replaced by a string (WRONGTYPE)."""
    base, _, query = backend.queue_url.partition("?")
    if base.startswith("sqlite"):
        path = base.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as db:
            db.execute("alter table task rename to task_away")
            db.commit()
        try:
            yield
        finally:
            with closing(sqlite3.connect(path)) as db:
                db.execute("alter table task_away rename to task")
                db.commit()
        return
    client = redis.Redis.from_url(base)
    key = f"huey.redis.{parse_qs(query)['name'][0]}"
    client.set(key, "not a list")
    try:
        yield
    finally:
        client.delete(key)
        client.close()


async def test_the_worker_outlives_a_failing_queue_storage(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """A storage error in the worker loop is logged, the loop backs off and reads again, and jobs run
    once the storage is back. (huey's ``Worker.loop`` catches what reading the queue and running a task
    raise, so the catch-all in ``JobQueue._run_loop`` that would let the thread die is not reached.)"""

    def read_errors() -> int:
        return sum(r.name == "huey.consumer.Worker" and r.getMessage() == "Error reading from queue" for r in caplog.records)

    with JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS) as jobs:
        with queue_storage_broken(backend), anyio.fail_after(10):
            while read_errors() < 2:  # the second: the loop came round again after the first
                await anyio.sleep(0.05)
        await jobs.submit("ready", {"order": "G-1"}, job_id="after-errors", phone=ADA)
        assert (await jobs.wait("after-errors", timeout=10)).status == "done"
    assert not [r for r in caplog.records if r.name == "callwright.jobs" and "died" in r.getMessage()]


async def test_a_job_the_queue_refuses_is_failed_at_once_and_can_be_submitted_again(backend: Backend) -> None:
    """Redis or the queue's SQLite refuses the enqueue: submit raises a clear JobError and the ledger says
    failed (a restart must not run, minutes later, a job the caller was told did not happen); submitting
    the same job again once the queue is back queues and runs it, once."""
    with JobQueue(queue_url=backend.queue_url, store_url=backend.store_url, handlers=HANDLERS) as jobs:
        with queue_storage_broken(backend):
            with pytest.raises(JobError, match=r"job 'refused' could not be queued: .*Error") as refused:
                await jobs.submit("ready", {"order": "G-2"}, job_id="refused", phone=ADA)
            assert refused.value.retryable
            async with opened(backend.store_url) as store:
                job = await store.get_job("refused")
                assert job is not None and job.status == "failed" and (job.error or "").startswith("could not be queued")
                assert [j.id for j in await store.unfinished_jobs()] == []
        await jobs.submit("ready", {"order": "G-2"}, job_id="refused", phone=ADA)
        assert (await jobs.wait("refused", timeout=10)).status == "done"
        await jobs.submit("ready", {"order": "G-2"}, job_id="refused", phone=ADA)  # done: a third submit is a no-op
    assert len(await job_messages(backend, "refused")) == 1


def test_queue_urls_are_checked(tmp_path: Path) -> None:
    for url in ("amqp://x", "sqlite://:memory:", "sqlite:jobs.db"):
        with pytest.raises(ConfigError, match="queue URL"):
            JobQueue(queue_url=url, store_url=f"sqlite:///{tmp_path}/s.db", handlers=HANDLERS)


# restart survival: real processes, SIGKILL


async def wait_for_status(backend: Backend, job_id: str, status: str, timeout: float = 15) -> Job:
    deadline = time.monotonic() + timeout
    async with opened(backend.store_url) as store:
        while True:
            job = await store.get_job(job_id)
            if job is not None and job.status == status:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job.status if job else 'missing'}, not {status}")
            await anyio.sleep(0.05)


def helper(command: str, backend: Backend, job_id: str, *extra: str, fast: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, FAST: "1"} if fast else {k: v for k, v in os.environ.items() if k != FAST}
    args = [sys.executable, str(HELPER), command, "--queue", backend.queue_url, "--store", backend.store_url,
            "--job-id", job_id, *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("killed", ["while running", "before pickup"])
async def test_job_survives_sigkill(backend: Backend, killed: str) -> None:
    job_id = f"restart-{uuid.uuid4().hex[:8]}"
    extra = ["--sleep", "60"] + (["--no-start"] if killed == "before pickup" else [])
    first = helper("submit", backend, job_id, *extra)
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "submitted"
        await wait_for_status(backend, job_id, "running" if killed == "while running" else "queued")
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    assert await job_messages(backend, job_id) == []

    second = helper("resume", backend, job_id, fast=True)
    out, _ = second.communicate(timeout=40)
    assert (second.returncode, out.strip()) == (0, "done")

    async with opened(backend.store_url) as store:
        job = await store.get_job(job_id)
    assert job is not None and job.status == "done"
    assert job.attempts == (2 if killed == "while running" else 1)
    [message] = await job_messages(backend, job_id)
    assert (message.to, message.body) == (PHONE, "Report R-1 is done.")
