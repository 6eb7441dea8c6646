"""One call over one WebSocket: the part every transport runs the same way.

The transport reads its protocol (and may run helpers beside it); this runs those tasks, the
outbox's writer and the call under one task group. When the call ends the readers are cancelled,
what the outbox still holds gets :data:`FLUSH_S` to be written, and the socket is closed with the
code the transport chose, unless the client already left.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from .outbox import Outbox

if TYPE_CHECKING:
    from ..voice.call import Call
    from .host import CallHost

FLUSH_S = 2.0  # real time: a peer that will not read must not hold the socket open


async def run_session(
    ws: WebSocket,
    outbox: Outbox,
    host: CallHost,
    call: Call,
    readers: Sequence[Callable[[], Coroutine[Any, Any, None]]],
    close: Callable[[], tuple[int, str]],
) -> None:
    """Run ``call`` to its end with ``readers`` beside it; then flush, and close with ``close()``."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        async with anyio.create_task_group() as reading:
            for reader in readers:
                reading.start_soon(reader)
            await host.run_call(call)
            reading.cancel_scope.cancel()
        outbox.close()
        tg.cancel_scope.deadline = anyio.current_time() + FLUSH_S  # flush what is queued, but not forever
    if call.end_reason != "client_gone":
        code, reason = close()
        try:
            await ws.close(code=code, reason=reason)
        except (RuntimeError, OSError, WebSocketDisconnect):
            pass  # the client closed first
