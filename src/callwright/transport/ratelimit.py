"""Per-client rate limits: one token bucket per (route group, client address), on an injected clock.

Each client may make ``burst`` requests at once; the bucket refills at ``rate`` requests per
second. A request that finds the bucket empty is refused with the seconds until the next token,
which the server sends as ``Retry-After`` with a 429.

Hand-written (about 40 lines) rather than taken from ``limits`` or ``aiolimiter``: ``limits``'
memory storage reads ``time.time()`` itself (its own tests freeze time with a patching library)
and ``aiolimiter`` reads the event loop's clock, so neither can run on a :class:`VirtualClock`,
which is how Callwright tests time. This one runs in one process; with several workers each keeps
its own buckets (a client may get ``workers`` times the limit).

The table of buckets is bounded (``max_clients``): when it is full, the buckets that have refilled
completely are dropped (they hold no information), then the oldest ones.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ..clock import Clock, MonotonicClock

log = logging.getLogger("callwright.server")
MAX_CLIENTS = 10_000
LIMITED = (("/ws", "ws"), ("/twilio/", "twilio"), ("/f/", "form"))  # path (prefix), bucket group


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, clock: Clock | None = None, max_clients: int = MAX_CLIENTS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not rate={rate}, burst={burst}")
        self.rate = rate
        self.burst = burst
        self.clock = clock or MonotonicClock()
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0

    def hit(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds until one is available."""
        now = self.clock.now()
        bucket = self._buckets.pop(key, None)  # re-inserted below: the dict stays in order of last use
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            bucket = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        self.refused += 1
        return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) >= self.max_clients:
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> str:
    """``Retry-After`` takes whole seconds: round up, so a client that waits that long gets in."""
    return str(max(1, math.ceil(seconds)))


def _group(path: str) -> str | None:
    for prefix, group in LIMITED:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return group
    return None


class RateLimitGuard:
    """ASGI middleware: 429 with ``Retry-After`` for a client over its limit on a limited route.

    The client is ``scope["client"]``: the peer address, or the address a trusted proxy forwarded
    (uvicorn's ``--forwarded-allow-ips``, loopback by default). A WebSocket over its limit is
    refused at the handshake with the same HTTP 429 (or, on a server without the denial-response
    extension, closed with code 1013, "try again later").
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = _group(scope.get("path", "")) if scope["type"] in ("http", "websocket") else None
        if group is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.hit(f"{group}:{client[0] if client else '?'}")
        if not wait:
            await self.app(scope, receive, send)
            return
        after = retry_after(wait)
        log.warning("rate limit: %s %s from %s refused; retry in %s s", scope["type"], scope.get("path"), client[0] if client else "?", after)
        response = PlainTextResponse(
            f"Too Many Requests: at most {self.limiter.burst} at once and {self.limiter.rate:g} per second "
            f"from one client; retry in {after} s\n",
            status_code=429,
            headers={"Retry-After": after},
        )
        if scope["type"] == "http":
            await response(scope, receive, send)
            return
        ws = WebSocket(scope, receive, send)
        if "websocket.http.response" in scope.get("extensions", {}):
            await ws.send_denial_response(response)
        else:
            await ws.close(code=1013, reason=f"rate limited; retry in {after} s")
