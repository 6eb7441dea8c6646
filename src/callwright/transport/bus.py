"""The call bus: messages that must reach the worker holding a live call, and a little shared state.

A form submitted on the web, or Twilio asking what to do after a stream, may land on any server
worker. The bus carries such messages to whoever subscribed to the call, and keeps the few facts
every worker must agree on (a link was used, a call is marked for transfer) under keys with a TTL.

* :class:`MemoryBus`: one process, one event loop (the default; enough for a single worker).
* :class:`RedisBus`: Redis pub/sub on channel ``callwright:call:{call_id}`` (JSON payloads) and keys
  ``callwright:{key}``. It keeps no connection between operations: each operation opens and closes
  its own, and each subscription holds one for as long as it is open. Nothing outlives the caller
  that made it, and it works from any event loop (uvicorn workers, test threads). The operations
  that use it (a form posted, a transfer recorded) are a few per call, so the connect is cheap.

Messages are JSON objects. Both buses encode them as JSON on publish, so a message that would not
survive Redis fails the same way in memory.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import anyio

from ..clock import Clock, MonotonicClock

log = logging.getLogger("callwright.bus")
PREFIX = "callwright"
SUBSCRIBER_BUFFER = 64  # messages per subscriber; beyond that the oldest is dropped (and counted)
SUBSCRIBE_TIMEOUT_S = 5.0
REDIS_TIMEOUT_S = 5.0  # connect, and each operation (not a subscription's wait for messages)


class Subscription(Protocol):
    """An async iterator of the messages published for one call since it was opened."""

    dropped: int  # messages lost because the subscriber fell behind (memory bus only)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def __anext__(self) -> dict[str, Any]: ...


class CallBus(Protocol):
    async def publish(self, call_id: str, message: dict[str, Any]) -> int:
        """Send ``message`` to the call's subscribers; return how many received it (0: no live call)."""
        ...

    def subscribe(self, call_id: str) -> AbstractAsyncContextManager[Subscription]:
        """``async with bus.subscribe(call_id) as messages: async for m in messages: ...``.

        The subscription is live when the ``async with`` body starts: anything published from
        then on is delivered, in order.
        """
        ...

    async def claim(self, key: str, ttl_s: float) -> bool:
        """Set ``key`` unless it is set: True for the first caller only (until the TTL passes)."""
        ...

    async def put(self, key: str, value: str, ttl_s: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


def _encode(message: dict[str, Any]) -> str:
    if not isinstance(message, dict):
        raise TypeError(f"a bus message is a dict (JSON object), not {type(message).__name__}")
    return json.dumps(message, separators=(",", ":"))


# ---------------------------------------------------------------------------------------- memory
class MemorySubscription:
    def __init__(self, size: int) -> None:
        self.dropped = 0
        self._items: deque[str] = deque(maxlen=size)
        self._ready = anyio.Event()
        self._closed = False

    def _deliver(self, data: str) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1  # the deque drops the oldest
        self._items.append(data)
        self._ready.set()

    def _close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            await self._ready.wait()
            self._ready = anyio.Event()
        message: dict[str, Any] = json.loads(self._items.popleft())
        return message


class MemoryBus:
    """In one process and one event loop. Keys expire on ``clock`` (monotonic) time."""

    def __init__(self, *, buffer: int = SUBSCRIBER_BUFFER, clock: Clock | None = None) -> None:
        self.buffer = buffer
        self.clock = clock or MonotonicClock()
        self._subscribers: dict[str, set[MemorySubscription]] = {}
        self._values: dict[str, tuple[str, float]] = {}  # key -> (value, expires at)

    async def publish(self, call_id: str, message: dict[str, Any]) -> int:
        data = _encode(message)
        subscribers = self._subscribers.get(call_id, set())
        for sub in subscribers:
            sub._deliver(data)
        return len(subscribers)

    @asynccontextmanager
    async def subscribe(self, call_id: str) -> AsyncIterator[MemorySubscription]:
        sub = MemorySubscription(self.buffer)
        self._subscribers.setdefault(call_id, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(call_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[call_id]
            sub._close()

    def _live(self, key: str) -> str | None:
        now = self.clock.now()
        for k in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[k]
        entry = self._values.get(key)
        return entry[0] if entry else None

    async def claim(self, key: str, ttl_s: float) -> bool:
        if self._live(key) is not None:
            return False
        self._values[key] = ("1", self.clock.now() + ttl_s)
        return True

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        self._live(key)
        self._values[key] = (value, self.clock.now() + ttl_s)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def aclose(self) -> None:
        for subs in list(self._subscribers.values()):
            for sub in subs:
                sub._close()
        self._values.clear()


# ----------------------------------------------------------------------------------------- redis
class RedisSubscription:
    def __init__(self, pubsub: Any, name: str) -> None:
        self.dropped = 0  # Redis buffers for a slow subscriber (client-output-buffer-limit pubsub)
        self._pubsub = pubsub
        self._name = name

    def __aiter__(self) -> RedisSubscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while True:
            raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if raw is None or raw.get("type") != "message":
                continue
            try:
                message = json.loads(raw["data"])
            except ValueError:
                log.warning("bus %s: ignoring a message that is not JSON", self._name)
                continue
            if isinstance(message, dict):
                return message
            log.warning("bus %s: ignoring a message that is not a JSON object", self._name)


class RedisBus:
    """Across processes and machines, through the Redis at ``url`` (``redis://host:6379/0``)."""

    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        import redis.asyncio  # the 'scale' extra: imported only when Redis is configured

        self.url = url
        self.prefix = prefix
        self._redis = redis.asyncio

    def _client(self, *, subscriber: bool = False) -> Any:
        return self._redis.Redis.from_url(
            self.url,
            decode_responses=True,
            single_connection_client=not subscriber,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=None if subscriber else REDIS_TIMEOUT_S,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def publish(self, call_id: str, message: dict[str, Any]) -> int:
        data = _encode(message)
        async with self._client() as r:
            return int(await r.publish(f"{self.prefix}:call:{call_id}", data))

    @asynccontextmanager
    async def subscribe(self, call_id: str) -> AsyncIterator[RedisSubscription]:
        name = f"{self.prefix}:call:{call_id}"
        async with self._client(subscriber=True) as r, r.pubsub() as pubsub:
            await pubsub.subscribe(name)
            # Live only once Redis confirms: a publish before that would be lost.
            with anyio.fail_after(SUBSCRIBE_TIMEOUT_S):
                while True:
                    confirm = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                    if confirm is not None and confirm.get("type") == "subscribe":
                        break
            yield RedisSubscription(pubsub, name)

    async def claim(self, key: str, ttl_s: float) -> bool:
        async with self._client() as r:
            return bool(await r.set(self._key(key), "1", nx=True, px=max(1, int(ttl_s * 1000))))

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        async with self._client() as r:
            await r.set(self._key(key), value, px=max(1, int(ttl_s * 1000)))

    async def get(self, key: str) -> str | None:
        async with self._client() as r:
            value = await r.get(self._key(key))
        return None if value is None else str(value)

    async def delete(self, key: str) -> None:
        async with self._client() as r:
            await r.delete(self._key(key))

    async def aclose(self) -> None:
        pass  # no connection is kept between operations


def bus_from_url(url: str | None, *, clock: Clock | None = None) -> CallBus:
    """A :class:`RedisBus` for a ``redis://`` URL, else an in-process :class:`MemoryBus`."""
    if not url:
        return MemoryBus(clock=clock)
    return RedisBus(url)
