"""Agents loaded from the example folders, with a real SQLite store and the embedded outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from callwright.agent.app import AgentApp, Services
from callwright.agent.spec import load_definition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"


@pytest.fixture(scope="session")
def order_desk_definition() -> Any:
    return load_definition(EXAMPLES / "order-desk")


@pytest.fixture(scope="session")
def recovery_definition() -> Any:
    return load_definition(EXAMPLES / "recovery-line")


@pytest.fixture(scope="session")
def apps(order_desk_definition: Any, recovery_definition: Any) -> dict[str, AgentApp]:
    """Built once: embedding the examples and the documents is the slow part."""
    return {"order-desk": AgentApp(order_desk_definition), "recovery-line": AgentApp(recovery_definition)}


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    from callwright.jobs.notify import OutboxNotifier
    from callwright.store import open_store
    from callwright.transport.links import LinkSigner

    store = await open_store(f"sqlite:///{tmp_path / 'callwright.db'}")
    try:
        yield Services(
            store=store,
            notifier=OutboxNotifier(store),
            links=LinkSigner("a-test-secret-of-32-characters!!"),
            public_url="http://127.0.0.1:9",
            data_dir=tmp_path,
        )
    finally:
        await store.close()


@pytest.fixture
def agent_for(apps: dict[str, AgentApp], services: Services) -> Callable[[str], Any]:
    """A fresh call's agent of the named example, sharing this test's store."""

    def make(name: str) -> Any:
        app = apps[name]
        app.services = services
        return app.agent()

    return make
