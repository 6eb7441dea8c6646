"""The agent contract: turns in, acts out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..clock import Clock, MonotonicClock
from ..engines.base import Message, Pcm, VoiceStyle

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ..events import Event


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished caller turn."""

    index: int
    text: str
    confidence: float | None = None
    source: str = "speech"  # speech | text | dtmf | web | greeting
    caller: str | None = None
    audio: Pcm | None = None  # the turn's audio at ``sample_rate`` (speech turns), for prosody
    sample_rate: int = 16000
    data: dict[str, Any] = field(default_factory=dict)  # structured input (a web form's field and value)


@dataclass(frozen=True, slots=True)
class Say:
    """Speak this text. An agent may yield many Says per turn; each is streamed as it comes."""

    text: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call after what has been said so far has played."""

    reason: str = "done"


@dataclass(frozen=True, slots=True)
class Style:
    """Speak the rest of this reply (and later ones, until changed) with this voice style."""

    voice: VoiceStyle


@dataclass(frozen=True, slots=True)
class Listen:
    """Listen to the caller's next turn ``patience`` times longer before deciding they finished."""

    patience: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TransferCall:
    """Hand the call to a person at ``to`` once what was said has played (phone: Twilio <Dial>).

    ``summary`` is the whisper: what the person who answers hears first (who is calling, what they
    asked, what was done), before the caller is put through.
    """

    to: str
    reason: str
    summary: str = ""


Act = Say | Hangup | Style | Listen | TransferCall


@dataclass(slots=True)
class Context:
    """The conversation as the caller experienced it.

    Agent turns are stored as *heard*: when the caller interrupts, the Call replaces the planned
    text with what had actually played, so the agent never believes it said more than it did.
    """

    caller: str | None = None
    messages: list[Message] = field(default_factory=list)
    call_id: str = ""
    # Set by the Call while a reply runs: tasks that must outlive a barge-in (a tool that waits)
    # are started here, so the reply cannot finish before they do.
    tasks: TaskGroup | None = None
    # Set by the Call while it runs: work that follows the call until it ends, whatever the caller
    # says meanwhile (watching a background job for the SMS it sends). Cancelled when the call ends.
    background: TaskGroup | None = None
    # Record a fact about the call (a tool result, an emotion estimate): the Call stamps it (seq,
    # t_ms), sends it to the client and writes it to the trace. Set by the Call.
    emit: Callable[[Event], Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # what the client said about the call (call.start.metadata)
    # The call's clock (set by the Call): tool timeouts, fillers and any pacing an agent does are
    # taken on it, so a call on virtual time runs its agent on virtual time too.
    clock: Clock = field(default_factory=MonotonicClock)

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


@runtime_checkable
class Agent(Protocol):
    """What the Call needs of an agent. ``greeting`` and ``respond`` have no default; ``open`` and
    ``aclose`` do, and an agent that subclasses ``Agent`` (as the built-in ones do) inherits them.

    As a call runs: ``greeting`` is asked before ``call.started`` is sent (whether the agent will
    greet is in that event), ``open`` is awaited as the call connects and returns what is said first,
    ``respond`` runs once per caller turn, and ``aclose`` is awaited when the call ends, however it ends.
    """

    name: str

    def greeting(self, context: Context) -> str | None:
        """The greeting as known before the call connects; None: wait for the caller to speak. Keep it
        cheap and free of side effects: the default ``open`` asks for it again."""
        ...

    async def open(self, context: Context) -> str | None:
        """Awaited as the call connects (look the caller up, recall earlier calls); returns the greeting
        to say. The Call gives it 10 s; if it fails, the call goes on without a greeting."""
        return self.greeting(context)

    def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        """Yield acts for one caller turn. Cancelled if the caller barges in."""
        ...

    async def aclose(self) -> None:
        """Awaited when the call ends (save memory, close clients); given 2 s. By default, nothing."""
        return None  # a body, so that an agent subclassing Agent need not write one
