"""Job handlers for the queue tests, and a small command line so a separate process can run a queue.

    python tests/jobs/job_handlers.py submit --queue URL --store URL --job-id ID [--sleep S] [--no-start]
    python tests/jobs/job_handlers.py resume --queue URL --store URL --job-id ID

``submit`` starts the queue's workers (unless ``--no-start``), submits a ``slow`` job and then waits
to be killed. ``resume`` starts the workers on the same queue and store, waits for the job, prints
its status and exits 0 if it is done. With ``JOB_HANDLERS_FAST=1`` in the environment the ``slow``
handler does not sleep, so the process that resumes a job finishes it quickly.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from typing import Any

import anyio

from callwright.jobs import JobHandler, JobQueue

FAST = "JOB_HANDLERS_FAST"
PHONE = "+15550199999"


async def ready(payload: dict[str, Any]) -> str:
    return f"Order {payload['order']} is ready for pickup."


async def slow(payload: dict[str, Any]) -> str:
    await anyio.sleep(0 if os.environ.get(FAST) else float(payload.get("sleep", 60)))
    return f"Report {payload['report']} is done."


HANDLERS: dict[str, JobHandler] = {"ready": ready, "slow": slow}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["submit", "resume"])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--sleep", type=float, default=60.0)
    parser.add_argument("--no-start", action="store_true")
    args = parser.parse_args(argv)
    queue = JobQueue(queue_url=args.queue, store_url=args.store, handlers=HANDLERS, retry_delay=0)
    if args.command == "submit":
        if not args.no_start:
            queue.start()
        submit = functools.partial(queue.submit, job_id=args.job_id, phone=PHONE)
        anyio.run(submit, "slow", {"report": "R-1", "sleep": args.sleep})
        print("submitted", flush=True)  # noqa: T201 - the test reads it
        while True:
            time.sleep(1)  # until the test kills us
    queue.start()
    try:
        job = anyio.run(queue.wait, args.job_id, 30.0)
    finally:
        queue.stop()
    print(job.status, flush=True)  # noqa: T201
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
