"""Per-client rate limits on /ws, /twilio/* and /f/*: exact behaviour on a virtual clock, and a clear
429 with Retry-After from a real server (whose clock is the test's virtual one)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from callwright.clock import VirtualClock
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.errors import ConfigError
from callwright.settings import Settings
from callwright.transport.ratelimit import RateLimiter, retry_after
from callwright.voice.call import Engines


def test_a_token_bucket_per_client_on_the_given_clock() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(rate=0.5, burst=3, clock=clock)  # 3 at once, then one every 2 s
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("a") == 2.0  # empty: the next token is 2 s away
    assert limiter.hit("b") == 0.0  # another client has its own bucket
    clock.advance(1.5)
    assert limiter.hit("a") == 0.5  # refused hits take nothing: still 0.75 of a token
    clock.advance(0.5)
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") == 2.0
    clock.advance(100)  # refills to the burst, no further
    assert [limiter.hit("a") for _ in range(4)] == [0.0, 0.0, 0.0, 2.0]
    assert limiter.refused == 4
    assert (retry_after(2.0), retry_after(0.5), retry_after(2.01)) == ("2", "1", "3")


def test_the_table_of_clients_is_bounded() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock, max_clients=3)
    limiter.hit("a")
    limiter.hit("a")
    limiter.hit("b")
    clock.advance(10)  # a and b have refilled: forgetting them loses nothing
    limiter.hit("c")
    limiter.hit("c")
    limiter.hit("d")
    assert len(limiter) == 2
    for key in ("e", "f", "g"):  # none full: the least recently used goes
        limiter.hit(key)
        limiter.hit(key)
    assert len(limiter) == 3
    assert limiter.hit("g") == 1.0  # the newest one kept its count


def test_the_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        Settings.load(rate_limit=-1)
    with pytest.raises(ConfigError, match="rate_limit_burst"):
        Settings.load(rate_limit_burst=0)
    with pytest.raises(ValueError, match="rate > 0"):
        RateLimiter(rate=0, burst=1)


async def test_a_client_over_its_limit_gets_429_with_retry_after(live_server: Any) -> None:
    clock = VirtualClock()
    engines = Engines(FakeStt(["hello"]), FakeTts(ms_per_char=10), EnergyVad())
    settings = Settings.load(port=0, trace_dir="", rate_limit=0.5, rate_limit_burst=2)
    with live_server(settings, engines, clock=clock) as base:
        ws = base.replace("http://", "ws://") + "/ws"
        async with httpx.AsyncClient(base_url=base) as http:
            forms = [await http.get("/f/not-a-link") for _ in range(3)]
            voice = [await http.post("/twilio/voice", data={"CallSid": f"CA{n}"}) for n in range(3)]
            health = [await http.get("/healthz") for _ in range(5)]  # not limited
            for _ in range(2):
                async with connect(ws) as sock:
                    await sock.close()
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws):
                    pass
            clock.advance(2.0)  # one token back for each client and route group
            form_again = await http.get("/f/not-a-link")
            async with connect(ws) as sock:
                await sock.close()
            form_too_soon = await http.get("/f/not-a-link")
    assert [r.status_code for r in forms] == [400, 400, 429]  # 400: the link is not valid; 429: too many
    assert [r.status_code for r in voice] == [200, 200, 429]
    assert [r.status_code for r in health] == [200] * 5
    for limited in (forms[2], voice[2]):
        assert limited.headers["retry-after"] == "2"
        assert "Too Many Requests: at most 2 at once and 0.5 per second from one client; retry in 2 s" in limited.text
    assert refused.value.response.status_code == 429 and refused.value.response.headers["Retry-After"] == "2"
    assert form_again.status_code == 400 and form_too_soon.status_code == 429
