"""An agent definition loaded for serving: what every call of one agent shares.

:class:`AgentApp` builds, once, the intent index (MiniLM embeddings of the example phrases), the
knowledge index (with warning sentences marked), the compiled safety rules and the replies, and
holds the :class:`Services` the calls use. :meth:`AgentApp.agent` makes one call's
:class:`~callwright.agent.spec_agent.SpecAgent`, composed with the brain the app was given: the
embedded one, or a language model's when ``services.llm`` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..engines.base import LanguageModel
from .brain import EmbeddedBrain
from .emotion import EmotionTracker
from .intents import IntentMatcher
from .llm_brain import LlmBrain
from .replies import REPLIES
from .safety import SafetyRules
from .spec import Definition
from .spec_agent import SpecAgent
from .state import Brain
from .tools import Ledger, MemoryLedger
from .values import parse_value

if TYPE_CHECKING:
    from ..jobs.notify import Notifier
    from ..jobs.queue import JobQueue
    from ..store.base import Store
    from ..transport.links import LinkSigner
    from .knowledge import Knowledge


@dataclass
class Services:
    """Shared by every call of a server; each part is optional (a plain chat needs none).

    The server opens the store, the notifier and the job queue in its event loop and sets them
    here before the first call.
    """

    store: Store | None = None
    jobs: JobQueue | None = None
    notifier: Notifier | None = None
    links: LinkSigner | None = None
    public_url: str = "http://127.0.0.1:8000"
    llm: LanguageModel | None = None
    data_dir: Path = Path(".callwright")  # where tools keep their state (ToolContext.data_dir)
    # The calendar date and time the caller lives in (wall clock, meant: "tomorrow" is a real day);
    # tests and simulations inject their own. Aware; a naive value is read as UTC.
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class AgentApp:
    """One loaded agent definition and its shared indexes. Heavy work happens here, once."""

    def __init__(self, definition: Definition, services: Services | None = None) -> None:
        from ..engines.embed import shared_embedder

        self.definition = definition
        self.spec = definition.spec
        self.services = services or Services()
        self.embedder = shared_embedder()
        u = self.spec.understanding
        self.matcher = IntentMatcher(self.spec.intents, self.spec.scope.out_of_scope, embedder=self.embedder, threshold=u.intent_threshold)
        self.knowledge: Knowledge | None = None
        if self.spec.knowledge is not None:
            from .knowledge import Knowledge

            kwargs: dict[str, Any] = {"embedder": self.embedder, "warnings": self.spec.knowledge.warnings}
            if self.spec.knowledge.min_score is not None:
                kwargs["min_score"] = self.spec.knowledge.min_score
            self.knowledge = Knowledge.from_folder(definition.folder / self.spec.knowledge.folder, **kwargs)
        self.safety = SafetyRules.from_spec(self.spec.safety)
        self.replies = {**REPLIES, **self.spec.replies}
        self.zone = ZoneInfo(self.spec.timezone)
        self._memory_ledger = MemoryLedger()
        self._warm()

    def _warm(self) -> None:
        """Load what the first turn of the first call would otherwise load (lexicons, date data)."""
        EmotionTracker().estimate("hello, thanks")
        parse_value("datetime", "tomorrow at three", now=self.now())
        self.matcher.rank("hello")
        if self.knowledge is not None:
            self.knowledge.search("hello")

    def now(self) -> datetime:
        """The services' clock in the agent's time zone (:attr:`AgentSpec.timezone`)."""
        now = self.services.now()
        return (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(self.zone)

    @property
    def ledger(self) -> Ledger:
        """Where side effects are recorded: the store when there is one."""
        return self.services.store or self._memory_ledger

    @property
    def name(self) -> str:
        return self.spec.name

    def brain(self) -> Brain:
        """The embedded brain, or the language model's when one is configured."""
        if self.services.llm is not None:
            return LlmBrain(self, self.services.llm)
        return EmbeddedBrain(self)

    def agent(self, brain: Brain | None = None) -> SpecAgent:
        """A new call's agent (one per call: it holds the call's conversation)."""
        return SpecAgent(self, brain or self.brain())
