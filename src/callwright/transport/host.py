"""What a transport needs from the server that hosts its calls: :class:`CallHost`.

A transport (``native.py``, ``twilio.py``) turns a wire protocol into a :class:`~callwright.voice.call.CallIO`
and asks its host for a call; it never sees the server's agents, engines, store or routes. A phone
transport also needs :class:`PhoneHost`: which calls were answered here, and where a transfer is recorded.
The form links (``webform.py``) need only :class:`LinkHost`: the link signer and the bus to the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..events import Transport
    from ..voice.call import Call, CallIO
    from .bus import CallBus
    from .links import LinkSigner
    from .twilio_security import TwilioCalls


class CallHost(Protocol):
    @property
    def max_calls(self) -> int:
        """How many calls the host takes at once (said when it refuses one)."""
        ...

    def has_capacity(self) -> bool:
        """Whether one more call can start now."""
        ...

    def new_call(
        self, io: CallIO, *, caller: str | None, transport: Transport, agent: str | None = None, metadata: dict[str, str] | None = None
    ) -> Call:
        """A call of the agent named ``agent`` (``None``: the one served) over ``io``; a name the host
        does not serve raises :class:`~callwright.errors.ConfigError`."""
        ...

    async def run_call(self, call: Call) -> None:
        """Run ``call`` to its end (form values and other deliveries reach it meanwhile)."""
        ...


class PhoneHost(CallHost, Protocol):
    twilio_calls: TwilioCalls  # the calls answered here, and the token each one's stream must present

    async def request_transfer(self, call_sid: str, to: str, summary: str = "") -> None:
        """Record that call ``call_sid`` is to be dialled through to ``to`` once its stream ends."""
        ...


class LinkHost(Protocol):
    @property
    def links(self) -> LinkSigner:
        """Signs and reads the form links."""
        ...

    @property
    def bus(self) -> CallBus:
        """Reaches the worker that holds a link's call (and records which links were used)."""
        ...
