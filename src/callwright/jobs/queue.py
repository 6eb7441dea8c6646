"""Durable background jobs: slow work that answers the caller later, by SMS.

The queue is huey's (SQLite file by default, Redis to scale out); we do not write our own. What we
add is a ledger in the store, which makes the guarantees hold across crashes:

- ``submit`` records the job in the ledger (idempotent on ``job_id``), then enqueues it in huey.
- A worker marks the job ``running``, calls its handler, sends the handler's text to the job's
  phone with ``dedupe_key=f"job:{job_id}"``, and marks it ``done``. A job already ``done`` or
  ``failed`` is skipped, so a duplicate enqueue cannot run it again.
- huey forgets a task once a worker takes it, so a process killed mid-job would lose it. ``start``
  therefore re-enqueues every ledger job still ``queued`` or ``running`` that huey is not already
  holding. The handler may thus run more than once (make it idempotent, e.g. with
  ``Store.claim_tool``); the SMS is sent once, because the outbox keeps one message per key.
- A failing handler is retried by huey (``retries``, ``retry_delay``); after the last attempt the
  job is ``failed`` with the error and no SMS is sent: a canned "sorry" text could promise more
  than we know, and the ledger shows staff what to follow up. An SMS that fails to send fails the
  attempt too, so it is retried with the job.
- A handler that gives up in time (raises :class:`JobTimedOut`, as an agent tool past its
  ``timeout`` does) is not retried: its ``reply`` is texted and the job is ``failed`` with the reason.

Workers are huey's own ``Worker`` and ``Scheduler`` loops, run in threads of this process. (huey's
``Consumer`` would also install process-wide signal handlers, which belong to the server.)

Stores are opened once, not per call of ``submit`` or ``wait`` nor per job: ``submit``, ``wait`` and
the recovery in ``start`` share one (opened at first use, migrated then, closed by ``stop``), and
each worker thread opens its own for the jobs it runs, closed when the thread ends. A store's connections belong to the event
loop that opened them, so each of these runs in an event loop on a thread of its own; a handler
that blocks its loop holds up only its worker's jobs, never a ``submit`` from a live call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlencode

import anyio
import anyio.to_thread
from anyio.from_thread import BlockingPortal
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task
from huey.consumer import Scheduler, Worker

from ..clock import Clock, MonotonicClock, offload
from ..errors import CallwrightError, ConfigError
from ..store import Job, Store, open_store, sqlite_path
from ..store.base import redact
from .notify import Notifier, OutboxNotifier

log = logging.getLogger("callwright.jobs")
T = TypeVar("T")

JobHandler = Callable[[dict[str, Any]], Awaitable[str]]
"""Gets the job's payload; returns the text of the SMS to send to the job's phone."""


class JobError(CallwrightError):
    """A job could not run or finish (no handler for its name, its SMS failed, a wait timed out)."""

    category = "job"


NOT_QUEUED = "could not be queued"  # the error of a job whose submit failed to reach the queue


class JobTimedOut(JobError):
    """A handler gave up on its work (a tool's ``timeout``): ``reply`` is texted instead of a result,
    the job ends ``failed`` with this message, and it is not retried."""

    def __init__(self, message: str, *, reply: str) -> None:
        super().__init__(message)
        self.reply = reply


class JobQueue:
    """``with JobQueue(queue_url=..., store_url=..., handlers={...}) as jobs: await jobs.submit(...)``"""

    def __init__(
        self,
        *,
        queue_url: str,
        store_url: str,
        handlers: Mapping[str, JobHandler] | Callable[[str], JobHandler],
        notifier_factory: Callable[[Store], Notifier] | None = None,
        workers: int = 1,
        retries: int = 2,
        retry_delay: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._huey = _huey_for(queue_url)
        self._store_url = store_url
        self._handlers = handlers
        self._notifier_factory = notifier_factory or OutboxNotifier
        self._workers = workers
        self._clock = clock or MonotonicClock()
        self._task = self._huey.task(retries=retries, retry_delay=retry_delay, context=True, name="callwright_job")(
            self._execute
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._ledger: _StoreThread | None = None  # the store of submit, wait and recovery; opened at first use
        self._migrated = False
        self._worker_store = threading.local()  # each worker thread's own store, opened at its first job
        self.store_opens = 0  # stores this queue has opened: one for submit and wait, one per worker thread that ran a job

    # submitting and waiting (any event loop)

    async def submit(self, name: str, payload: dict[str, Any], *, job_id: str, phone: str | None) -> str:
        """Record the job and enqueue it. Submitting a ``job_id`` again changes and enqueues nothing,
        unless the first submit could not reach the queue: then the job was recorded ``failed`` (never
        left ``queued`` for a restart to run by surprise), :class:`JobError` was raised, and a second
        submit queues it again."""

        def record_and_enqueue() -> None:
            if not self._in_ledger(lambda store: store.add_job(job_id, name, payload, phone)):
                job = self._in_ledger(lambda store: store.get_job(job_id))
                if job is None or job.status != "failed" or not (job.error or "").startswith(NOT_QUEUED):
                    return
                self._in_ledger(lambda store: store.set_job(job_id, "queued"))
            try:
                self._enqueue(job_id)
            except Exception as exc:  # the queue's backend (Redis, SQLite) refused: say so, keep nothing dangling
                error = f"{NOT_QUEUED}: {type(exc).__name__}: {exc}"
                self._in_ledger(lambda store: store.set_job(job_id, "failed", error=error))
                log.error("job %s (%s) %s", job_id, name, error)
                raise JobError(f"job {job_id!r} {error}", retryable=True) from exc

        await offload(record_and_enqueue)  # a live call waits on this: on a charging clock it costs its time
        return job_id

    async def wait(self, job_id: str, timeout: float, *, every: float = 0.05) -> Job:
        """Poll the ledger every ``every`` s until the job is ``done`` or ``failed``; :class:`JobError`
        after ``timeout`` s. The ledger is in the store, so this works whichever process runs the job."""
        deadline = self._clock.now() + timeout
        while True:
            # Not offload: no call waits here (tests and scripts do), and the job it polls runs on the
            # workers' real time, off any virtual clock.
            job: Job | None = await anyio.to_thread.run_sync(self._in_ledger, lambda store: store.get_job(job_id))
            if job is None:
                raise JobError(f"job {job_id!r} was never submitted")
            if job.status in ("done", "failed"):
                return job
            if self._clock.now() >= deadline:
                raise JobError(f"job {job_id!r} still {job.status} after {timeout:g} s", retryable=True)
            await self._clock.sleep_until(min(deadline, self._clock.now() + every))

    # workers (this process)

    def start(self) -> None:
        """Re-enqueue jobs a crash or restart left behind, then run huey's workers in threads."""
        if self._threads:
            raise JobError("the job queue is already running")
        self._stop = threading.Event()  # fresh: a thread abandoned by the last stop() must stay stopped
        self._recover()
        stop = self._stop
        loops: list[Scheduler | Worker] = [Scheduler(self._huey, stop, interval=1, periodic=False)]
        loops += [Worker(self._huey, stop, default_delay=0.1, max_delay=1.0, backoff=1.15) for _ in range(self._workers)]
        for n, loop in enumerate(loops):
            thread = threading.Thread(target=self._run_loop, args=(loop, stop), name=f"callwright-jobs-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Let running jobs finish for up to ``timeout`` s in all; one still running after that is
        abandoned (its thread is a daemon, and closes its store when the job ends) and re-enqueued by
        the next ``start``. Closes the store of ``submit`` and ``wait``, so call it (or leave the
        ``with`` block) even on a queue that only submits."""
        self._stop.set()
        deadline = time.monotonic() + timeout  # joining real threads takes real time, whatever the clock
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        self._threads = []
        if alive:
            log.warning("job queue stopped with %s still running; their jobs resume on the next start", alive)
        else:
            self._huey.storage.close()
        with self._lock:
            ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _in_ledger(self, work: Callable[[Store], Awaitable[T]]) -> T:
        """Run ``work`` with the store of submit, wait and recovery (opened, and migrated, at first use)."""
        with self._lock:
            if self._ledger is None:
                self._ledger = _StoreThread(self._store_url, self._clock, migrate=not self._migrated, name="callwright-jobs-store")
                self._migrated = True
                self.store_opens += 1
            ledger = self._ledger
        return ledger.call(work)

    def _recover(self) -> None:
        unfinished = self._in_ledger(lambda store: store.unfinished_jobs())
        held = {task.id for task in [*self._huey.pending(), *self._huey.scheduled()]}
        for job in unfinished:
            if job.id not in held:
                log.info("re-enqueueing job %s (%s), left %s", job.id, job.name, job.status)
                self._enqueue(job.id)

    def _enqueue(self, job_id: str) -> None:
        self._huey.enqueue(self._task.s(job_id, id=job_id))

    # one job, in a worker thread

    def _execute(self, job_id: str, task: Task) -> None:
        own: _StoreThread | None = getattr(self._worker_store, "thread", None)
        if own is None:  # this worker's first job (the ledger, opened by start, has migrated the store)
            own = _StoreThread(self._store_url, self._clock, migrate=False, name=f"{threading.current_thread().name}-store")
            self._worker_store.thread = own
            with self._lock:
                self.store_opens += 1
        own.call(lambda store: self._run(store, job_id, task.retries))

    def _run_loop(self, loop: Scheduler | Worker, stop: threading.Event) -> None:
        """One of huey's worker or scheduler loops, until ``stop`` is set; then the thread's store is closed."""
        loop.initialize()
        try:
            while not stop.is_set():
                loop.loop()
        except Exception:
            log.exception("job queue thread %s died", threading.current_thread().name)
        finally:
            loop.shutdown()
            own: _StoreThread | None = getattr(self._worker_store, "thread", None)
            if own is not None:
                self._worker_store.thread = None
                own.close()

    async def _run(self, store: Store, job_id: str, retries_left: int) -> None:
        job = await store.get_job(job_id)
        if job is None or job.status in ("done", "failed"):
            log.info("job %s is %s: nothing to do", job_id, "unknown" if job is None else job.status)
            return
        try:
            handler = self._handler(job.name)
        except Exception as exc:  # no handler: retrying cannot help
            await store.set_job(job_id, "failed", error=f"{type(exc).__name__}: {exc}")
            log.error("job %s (%s) cannot run: %s", job_id, job.name, exc)
            return
        await store.set_job(job_id, "running")
        gave_up: JobTimedOut | None = None
        try:
            try:
                body = await handler(dict(job.payload))
            except JobTimedOut as exc:  # the caller is told, and nothing is retried
                gave_up, body = exc, exc.reply
            if job.phone is not None:
                await self._notify(store, job, body)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if retries_left:
                await store.set_job(job_id, "queued", error=error)
                raise  # huey schedules the retry
            await store.set_job(job_id, "failed", error=error)
            log.error("job %s (%s) failed after its last attempt: %s", job_id, job.name, error)
            return
        if gave_up is not None:
            await store.set_job(job_id, "failed", error=gave_up.message)
            log.warning("job %s (%s) timed out: %s", job_id, job.name, gave_up.message)
            return
        await store.set_job(job_id, "done", result=body)

    async def _notify(self, store: Store, job: Job, body: str) -> None:
        assert job.phone is not None
        notifier = self._notifier_factory(store)
        message = await notifier.send_sms(job.phone, body, dedupe_key=f"job:{job.id}", purpose=f"job {job.name}")
        if message.status == "failed":
            raise JobError(f"the SMS for job {job.id} to {job.phone} failed: {message.error}", retryable=True)

    def _handler(self, name: str) -> JobHandler:
        if isinstance(self._handlers, Mapping):
            if name not in self._handlers:
                known = ", ".join(sorted(self._handlers)) or "none"
                raise JobError(f"no handler for job {name!r} (handlers: {known})")
            return self._handlers[name]
        return self._handlers(name)


class _StoreThread:
    """An open store in an event loop on a daemon thread of its own, used from any other thread with
    :meth:`call`. (A store's connections belong to the event loop that opened them.)"""

    def __init__(self, url: str, clock: Clock, *, migrate: bool, name: str) -> None:
        opened: Future[tuple[BlockingPortal, Store]] = Future()

        async def serve() -> None:
            store = await open_store(url, clock=clock, migrate=migrate)
            try:
                async with BlockingPortal() as portal:
                    opened.set_result((portal, store))
                    await portal.sleep_until_stopped()
            finally:
                await store.close()

        def run() -> None:
            try:
                anyio.run(serve)
            except BaseException as exc:
                if not opened.done():
                    opened.set_exception(exc)  # raised to whoever is opening it
                else:
                    log.exception("job store thread %s failed", name)

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        self._portal, self._store = opened.result()

    def call(self, work: Callable[[Store], Awaitable[T]]) -> T:
        return self._portal.call(work, self._store)

    def close(self) -> None:
        """Let calls under way finish, close the store, end the thread."""
        self._portal.call(self._portal.stop)
        self._thread.join()


def _huey_for(queue_url: str) -> Huey:
    """``sqlite:///path/jobs.db`` or ``redis://host:6379/0``; ``?name=`` picks the queue within it
    (default ``callwright``), so several queues (or test runs) can share one Redis."""
    base, _, query_string = queue_url.partition("?")  # not urlsplit: it would fold sqlite://// into sqlite://
    query = parse_qs(query_string)
    name = query.pop("name", ["callwright"])[0]
    rest = f"{base}?{urlencode(query, doseq=True)}" if query else base
    scheme = base.partition(":")[0]
    if scheme == "sqlite":
        path = sqlite_path(rest, what="queue")
        if path == ":memory:":
            raise ConfigError(f"queue URL {queue_url!r}: a durable queue needs a file, not :memory:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, results=False)
    if scheme in ("redis", "rediss"):
        return RedisHuey(name, url=rest, results=False)
    raise ConfigError(f"queue URL {redact(queue_url)!r}: expected sqlite:///path/jobs.db or redis://host:6379/0")

