"""A background tool is held to its ``timeout`` like any other: past it, the tool is cancelled, the
caller is texted the timeout reply instead of a result, and the job ends ``failed`` (not retried).

The deadline is taken on the injected clock: on a :class:`VirtualClock` the handler gives up at
exactly ``timeout`` seconds, and a tool that answers at once is not cut short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callwright.agent.background import tool_job_handler
from callwright.clock import VirtualClock
from callwright.jobs import JobQueue, JobTimedOut
from callwright.store import open_store

ADA = "+15550100001"
AGENT = """
name: slow-shop
persona: A shop for tests.
greeting: Hello.
"""
TOOLS = '''
import anyio

from callwright.agent.tools import ToolContext, tool


@tool(background=True, side_effects=True, timeout=30, timeout_reply="Sorry, the warehouse did not answer in time. We'll call you back.")
async def stuck_order(ctx: ToolContext, item: str) -> str:
    """Never answers."""
    await anyio.Event().wait()
    return "never"


@tool(background=True, timeout=45)
async def stuck_quote(ctx: ToolContext, item: str) -> str:
    """Never answers either, and has no reply of its own."""
    await anyio.Event().wait()
    return "never"


@tool(background=True, timeout=30)
async def quick_order(ctx: ToolContext, item: str) -> str:
    """Answers at once."""
    return f"Your {item} is on its way."
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    agent = tmp_path / "slow-shop"
    agent.mkdir()
    (agent / "agent.yaml").write_text(AGENT)
    (agent / "tools.py").write_text(TOOLS)
    return agent


def payload(folder: Path, tool: str) -> dict[str, Any]:
    return {"agent": str(folder), "tool": tool, "arguments": {"item": "oat milk"}, "key": f"k-{tool}", "call_id": "c1", "caller": ADA}


async def test_the_handler_gives_up_at_the_tools_timeout_on_the_clock(folder: Path, tmp_path: Path) -> None:
    clock = VirtualClock(start=100.0)
    handle = tool_job_handler(tmp_path / "data", clock=clock)
    with pytest.raises(JobTimedOut) as stuck:
        await handle(payload(folder, "stuck_order"))
    assert clock.now() == 130.0  # exactly the tool's timeout
    assert stuck.value.reply == "Sorry, the warehouse did not answer in time. We'll call you back."
    assert stuck.value.message == "tool 'stuck_order' gave no result within its timeout of 30 s"
    with pytest.raises(JobTimedOut) as plain:
        await handle(payload(folder, "stuck_quote"))
    assert clock.now() == 175.0
    assert plain.value.reply == "Sorry, that's taking much longer than it should. Let's try again in a little while."
    assert await handle(payload(folder, "quick_order")) == "Your oat milk is on its way."  # not cut short


async def test_a_timed_out_job_texts_the_timeout_reply_once_and_is_not_retried(folder: Path, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path}/store/callwright.db"
    handler = tool_job_handler(tmp_path / "data", clock=VirtualClock())
    with JobQueue(queue_url=f"sqlite:///{tmp_path}/queue/jobs.db", store_url=store_url, handlers=lambda name: handler, retries=2) as jobs:
        await jobs.submit("slow-shop.stuck_order", payload(folder, "stuck_order"), job_id="j-stuck", phone=ADA)
        await jobs.submit("slow-shop.quick_order", payload(folder, "quick_order"), job_id="j-quick", phone=ADA)
        stuck = await jobs.wait("j-stuck", timeout=30)
        quick = await jobs.wait("j-quick", timeout=30)
    assert (stuck.status, stuck.attempts, stuck.error) == ("failed", 1, "tool 'stuck_order' gave no result within its timeout of 30 s")
    assert (quick.status, quick.result) == ("done", "Your oat milk is on its way.")
    store = await open_store(store_url)
    try:
        texts = {m.dedupe_key: m.body for m in await store.messages(ADA)}
    finally:
        await store.close()
    assert texts == {
        "job:j-stuck": "Sorry, the warehouse did not answer in time. We'll call you back.",
        "job:j-quick": "Your oat milk is on its way.",
    }
