"""Ordered, bounded output to one WebSocket.

Calls queue audio and events without waiting; one writer task drains them in order. If the client
stops reading for so long that the queue fills (seconds of audio), the client is treated as gone:
a live call must not grow memory for a peer that will never catch up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger("callwright.transport")

Item = bytes | str
SERVER_STOPPING = 1012  # the close code the ASGI server (uvicorn) uses for open WebSockets when it stops


def gone(message: Mapping[str, Any]) -> Literal["shutdown", "client_gone"]:
    """Why a WebSocket call ended on a ``websocket.disconnect``: the server stopping, or the client leaving."""
    return "shutdown" if message.get("code") == SERVER_STOPPING else "client_gone"


class Outbox:
    def __init__(self, websocket: WebSocket, on_overflow: Callable[[], None], capacity: int = 400) -> None:
        self._ws = websocket
        self._tx, self._rx = anyio.create_memory_object_stream[Item](capacity)
        self._on_overflow = on_overflow
        self.overflowed = False

    def put(self, item: Item) -> None:
        try:
            self._tx.send_nowait(item)
        except anyio.WouldBlock:
            if not self.overflowed:
                self.overflowed = True
                log.warning("client is not reading: output queue full, ending the call")
                self._on_overflow()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def close(self) -> None:
        self._tx.close()

    def discard(self) -> None:
        """Close both ends, writing nothing: for a call refused before :meth:`run` started."""
        self._tx.close()
        self._rx.close()

    async def run(self) -> None:
        """Write until closed; the remaining items are flushed first."""
        try:
            async with self._rx:
                async for item in self._rx:
                    if isinstance(item, bytes):
                        await self._ws.send_bytes(item)
                    else:
                        await self._ws.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the peer went away; the reader notices and ends the call
