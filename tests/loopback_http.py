"""A tiny HTTP/1.1 server on loopback for tests that stand in for, or sit in front of, an
OpenAI-compatible endpoint: one request per connection, read whole, answered whole.

``LoopbackHttp(answer)`` calls ``answer(request)`` for each request and sends back what it returns;
``serving()`` yields the base URL (``http://127.0.0.1:PORT/v1``). Used by the canned server of
``tests/engines/test_llm_openai.py`` and the spy in front of the real model in
``tests/agent/test_llm_brain.py``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
from anyio.abc import SocketAttribute, SocketStream


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    head: str  # the request line and headers, as sent
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    content_type: bytes
    body: bytes
    reason: bytes = b"Loopback"

    def encode(self) -> bytes:
        return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
            self.status, self.reason, self.content_type, len(self.body), self.body
        )  # fmt: skip


async def read_request(stream: SocketStream) -> Request:
    """The head, then as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    while match and len(body) < int(match.group(1)):
        body += await stream.receive()
    method, path = head.split(b" ")[:2]
    return Request(method.decode(), path.decode(), head.decode(), body)


class LoopbackHttp:
    """Serves ``answer(request)`` for every request (see the module docstring)."""

    def __init__(self, answer: Callable[[Request], Awaitable[Response]]) -> None:
        self.answer = answer

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            response = await self.answer(await read_request(stream))
            await stream.send(response.encode())

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, self._handle)
            try:
                yield f"http://127.0.0.1:{port}/v1"
            finally:
                tg.cancel_scope.cancel()
