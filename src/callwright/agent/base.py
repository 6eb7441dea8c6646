"""The agent contract: turns in, acts out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from ..engines.base import Message


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished caller turn."""

    index: int
    text: str
    confidence: float | None = None
    source: str = "speech"  # speech | text | dtmf
    caller: str | None = None


@dataclass(frozen=True, slots=True)
class Say:
    """Speak this text. An agent may yield many Says per turn; each is streamed as it comes."""

    text: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call after what has been said so far has played."""

    reason: str = "done"


Act = Say | Hangup


@dataclass(slots=True)
class Context:
    """The conversation as the caller experienced it.

    Agent turns are stored as *heard*: when the caller interrupts, the Call replaces the planned
    text with what had actually played, so the agent never believes it said more than it did.
    """

    caller: str | None = None
    messages: list[Message] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.messages.append(Message(role="user", content=text))

    def add_agent(self, text: str) -> None:
        self.messages.append(Message(role="assistant", content=text))

    @property
    def last_agent_text(self) -> str | None:
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message.content
        return None


class Agent(Protocol):
    name: str

    def greeting(self, context: Context) -> str | None:
        """What to say when the call connects (None: wait for the caller)."""
        ...

    def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        """Yield acts for one caller turn. Cancelled if the caller barges in."""
        ...

    # Optional: ``async def aclose(self) -> None`` is awaited when the call ends (close clients here).
