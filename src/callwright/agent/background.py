"""Agent tools marked ``background`` run as durable jobs: this is the job side.

The call records the job (agent folder, tool, arguments, idempotency key, caller) and moves on; a
queue worker, possibly after a server restart, loads the agent's tools and runs the tool with the
same idempotency key. What the tool returns is the SMS the caller gets: a string, or a mapping with
an ``sms`` (or ``message``) entry.

The tool's ``timeout`` holds here too, on the queue's clock: a tool still running after it is
cancelled, and the caller is texted its ``timeout_reply`` (or the built-in ``tool_timeout`` line)
instead of a result; the job ends ``failed`` with the reason, and is not retried.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..clock import Clock, MonotonicClock, TimedOut, within
from ..jobs.queue import JobHandler, JobTimedOut
from .replies import REPLIES
from .spec import Definition, load_definition
from .tools import ToolContext


def tool_job_handler(data_dir: Path, clock: Clock | None = None) -> JobHandler:
    definitions: dict[str, Definition] = {}
    lock = threading.Lock()  # jobs run in worker threads
    clock = clock or MonotonicClock()

    def definition(folder: str) -> Definition:
        with lock:
            if folder not in definitions:
                definitions[folder] = load_definition(folder)
            return definitions[folder]

    async def handle(payload: dict[str, Any]) -> str:
        d = definition(str(payload["agent"]))
        tool = d.tools[str(payload["tool"])]
        ctx = ToolContext(
            call_id=str(payload.get("call_id", "")),
            caller=payload.get("caller"),
            turn=0,
            idempotency_key=payload.get("key"),
            data_dir=data_dir / "agents" / d.name,
            clock=clock,
        )
        arguments = payload.get("arguments", {})
        timeout = tool.options.timeout
        result = await within(clock, timeout, lambda: tool(ctx, **arguments))
        if isinstance(result, TimedOut):
            reply = tool.options.timeout_reply or d.spec.replies.get("tool_timeout") or REPLIES["tool_timeout"]
            raise JobTimedOut(f"tool {tool.name!r} gave no result within its timeout of {timeout:g} s", reply=reply)
        if isinstance(result, str):
            return result
        if isinstance(result, dict):
            return str(result.get("sms") or result.get("message") or result)
        return str(result)

    return handle
