"""Form links: signed, expiring, single-use; what the caller submits reaches the live call's subscriber,
across processes through Redis, from a real server and from a real browser."""

from __future__ import annotations

import os
import re
import stat
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio

from callwright.agent.scripted import front_desk
from callwright.clock import VirtualClock
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.errors import ConfigError
from callwright.settings import Settings
from callwright.transport.app import VoiceServer, create_app
from callwright.transport.bus import CallBus, MemoryBus, RedisBus, Subscription, bus_from_url
from callwright.transport.links import LinkExpired, LinkInvalid, LinkSigner, link_secret
from callwright.voice.call import Engines

REDIS = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "test-secret-0123456789abcdef"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = "/tmp/callwright-form.png"
Server = Callable[..., AbstractContextManager[str]]


def fake_engines() -> Engines:
    return Engines(FakeStt(["hello"]), FakeTts(ms_per_char=10), EnergyVad())


def call_id() -> str:
    return uuid.uuid4().hex[:16]


async def next_message(messages: Subscription, timeout: float = 5.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        return await messages.__anext__()


# ------------------------------------------------------------------------------------ signing
def test_a_link_reads_back_what_it_was_made_with() -> None:
    signer = LinkSigner(SECRET)
    token = signer.make("c1", "delivery", "address", "address", "Your delivery address")
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", token), token  # safe in a URL path and an SMS
    claims = signer.read(token)
    assert (claims.call_id, claims.form, claims.field, claims.kind, claims.label) == (
        "c1", "delivery", "address", "address", "Your delivery address"
    )
    again = signer.read(signer.make("c1", "delivery", "address", "address", "Your delivery address"))
    assert again.token_id != claims.token_id  # every link is its own, so each can be used once
    assert claims.business == ""
    named = signer.read(signer.make("c1", "delivery", "address", "address", "Address", business="Callwright Market"))
    assert named.business == "Callwright Market"
    assert LinkSigner(SECRET).read(token) == claims  # another worker with the same key reads it


def test_a_link_expires_after_its_maximum_age() -> None:
    clock = VirtualClock(wall_start=time.time())
    signer = LinkSigner(SECRET, max_age_s=900, clock=clock)
    token = signer.make("c1", "f", "email", "email", "E-mail")
    clock.advance(899)
    assert signer.read(token).field == "email"
    clock.advance(2)
    with pytest.raises(LinkExpired, match="expired"):
        signer.read(token)


def test_a_changed_or_foreign_link_is_refused() -> None:
    signer = LinkSigner(SECRET)
    token = signer.make("c1", "f", "email", "email", "E-mail")
    forged = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (forged, token[:-3], "not-a-token", "", token + "x" * 3000):
        with pytest.raises(LinkInvalid):
            signer.read(bad)
    with pytest.raises(LinkInvalid, match="another key"):
        LinkSigner("some-other-secret-0123456789").read(token)
    # An old link made with another key is "not valid", never "expired": the key is checked first.
    old = LinkSigner("some-other-secret-0123456789", clock=VirtualClock(wall_start=time.time() - 5000))
    with pytest.raises(LinkInvalid):
        signer.read(old.make("c1", "f", "email", "email", "E-mail"))


def test_the_generated_secret_is_private_and_kept(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=str(tmp_path / "data"))
    first = link_secret(settings)
    path = tmp_path / "data" / "link-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert link_secret(settings) == first and len(first) >= 32  # the same after a restart
    assert not [p for p in path.parent.iterdir() if p.name != "link-secret"]  # no temp file left
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        link_secret(settings)
    configured = Settings.load(link_secret=SECRET, data_dir=str(tmp_path / "unused"))
    assert link_secret(configured) == SECRET and not (tmp_path / "unused").exists()
    assert configured.public()["link_secret"] == "***"
    with pytest.raises(ConfigError, match="at least 16"):
        Settings.load(link_secret="short")


# ---------------------------------------------------------------------------------------- bus
async def test_memory_bus_delivers_in_order_and_drops_the_oldest_when_full() -> None:
    bus = MemoryBus(buffer=3)
    assert await bus.publish("c1", {"n": 0}) == 0  # nobody listens
    async with bus.subscribe("c1") as a, bus.subscribe("c1") as b:
        assert await bus.publish("c1", {"n": 1}) == 2
        assert await bus.publish("c2", {"n": 99}) == 0
        assert await next_message(a) == {"n": 1}
        for n in range(2, 7):
            await bus.publish("c1", {"n": n})
        assert [(await next_message(a))["n"] for _ in range(3)] == [4, 5, 6]
        assert a.dropped == 2
        assert [(await next_message(b))["n"] for _ in range(3)] == [4, 5, 6] and b.dropped == 3
    assert await bus.publish("c1", {"n": 7}) == 0  # unsubscribed on exit
    with pytest.raises(TypeError):
        await bus.publish("c1", ["not", "an", "object"])  # type: ignore[arg-type]


async def test_memory_bus_keys_expire_on_its_clock() -> None:
    clock = VirtualClock()
    bus = MemoryBus(clock=clock)
    assert await bus.claim("used:1", ttl_s=10) is True
    assert await bus.claim("used:1", ttl_s=10) is False
    await bus.put("transfer:CA1", "+15551230000", ttl_s=5)
    clock.advance(6)
    assert await bus.get("transfer:CA1") is None
    assert await bus.claim("used:1", ttl_s=10) is False
    clock.advance(5)
    assert await bus.claim("used:1", ttl_s=10) is True
    await bus.delete("used:1")
    assert await bus.get("used:1") is None


async def test_redis_bus_publishes_and_keeps_keys() -> None:
    bus = bus_from_url(REDIS)
    assert isinstance(bus, RedisBus) and isinstance(bus_from_url(None), MemoryBus)
    cid = call_id()
    async with bus.subscribe(cid) as messages:
        assert await bus.publish(cid, {"type": "form.value", "value": "12 Baker Street\nLondon"}) == 1
        assert await next_message(messages) == {"type": "form.value", "value": "12 Baker Street\nLondon"}
    assert await bus.publish(cid, {"late": True}) == 0
    # Expiry is Redis's own (on its clock, not ours): what the bus must do is hand Redis the TTL, in
    # milliseconds, on every key it writes. PTTL reads it back; it can only have fallen since the write.
    key = f"test:{cid}"
    raw = redis.asyncio.Redis.from_url(REDIS, decode_responses=True)
    try:
        assert await bus.claim(key, ttl_s=5) is True and await bus.claim(key, ttl_s=5) is False
        assert 0 < await raw.pttl(f"{bus.prefix}:{key}") <= 5000  # -1 would be no TTL, -2 already gone
        await bus.put(key, "v", ttl_s=2.5)
        assert await bus.get(key) == "v"
        assert 0 < await raw.pttl(f"{bus.prefix}:{key}") <= 2500  # put replaced the claim's TTL with its own
        await bus.delete(key)
        assert await bus.get(key) is None and await raw.pttl(f"{bus.prefix}:{key}") == -2  # -2: no such key
    finally:
        await raw.aclose()
    await bus.aclose()


async def test_a_message_published_by_one_worker_reaches_a_subscriber_on_another() -> None:
    worker_a, worker_b = RedisBus(REDIS), RedisBus(REDIS)
    cid = call_id()
    async with worker_a.subscribe(cid) as messages:
        assert await worker_b.publish(cid, {"n": 1}) == 1
        assert await worker_b.publish(cid, {"n": 2}) == 1
        assert [await next_message(messages), await next_message(messages)] == [{"n": 1}, {"n": 2}]
        assert await worker_b.claim(f"test:{cid}", ttl_s=5) and not await worker_a.claim(f"test:{cid}", ttl_s=5)


# ------------------------------------------------------------------------- the form over HTTP
def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.load(port=0, trace_dir="", data_dir=str(tmp_path), link_secret=SECRET, redis_url=REDIS, **overrides)


async def test_a_submitted_value_reaches_the_call_once(tmp_path: Path, live_server: Server) -> None:
    """The page is served by one server process; the subscriber is another (this test) on Redis."""
    signer, bus, cid = LinkSigner(SECRET), RedisBus(REDIS), call_id()
    token = signer.make(cid, "contact", "email", "email", "Your e-mail address", business="Bakery <Bread & Co>")
    with live_server(settings(tmp_path), fake_engines()) as base:
        link = f"{base}/f/{token}"
        async with httpx.AsyncClient(timeout=10) as http, bus.subscribe(cid) as messages:
            page = await http.get(link)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "Your e-mail address" in page.text and 'type="email"' in page.text
            # Who is asking: the business, escaped, above the form, in the title and in the note.
            assert '<p class="business">Bakery &lt;Bread &amp; Co&gt;</p>' in page.text
            assert "<title>Bakery &lt;Bread &amp; Co&gt; · Your e-mail address</title>" in page.text
            assert "goes straight to your call with Bakery &lt;Bread &amp; Co&gt;." in page.text
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
            assert not re.search(r"<script|https?://", page.text)  # self-contained

            bad = await http.post(link, data={"value": "not an address"})
            assert bad.status_code == 400 and "does not look like an e-mail address" in bad.text
            assert 'value="not an address"' in bad.text  # kept for correcting
            empty = await http.post(link, data={"value": "   "})
            assert empty.status_code == 400 and "fill this in" in empty.text

            done = await http.post(link, data={"value": " Ada.Lovelace@Example.com "})
            assert done.status_code == 200 and "Thanks, you can go back to your call." in done.text
            assert await next_message(messages) == {
                "type": "form.value", "form": "contact", "field": "email", "value": "Ada.Lovelace@example.com", "kind": "email"
            }
            again = await http.post(link, data={"value": "someone@example.com"})
            assert again.status_code == 410 and "This link was already used" in again.text
            assert "This link was already used" in (await http.get(link)).text

            too_long = signer.make(cid, "contact", "note", "text", "Anything else?")
            long = await http.post(f"{base}/f/{too_long}", data={"value": "x" * 501})
            assert long.status_code == 400 and "at most 500 characters" in long.text
            # Nothing else was published: the refused posts were answered before this marker went
            # out, and Redis delivers one channel's messages in order, so the marker comes next.
            assert await bus.publish(cid, {"type": "marker"}) == 1
            assert await next_message(messages) == {"type": "marker"}, "nothing else was published"


async def test_expired_changed_and_orphaned_links_are_refused(tmp_path: Path, live_server: Server) -> None:
    cid = call_id()
    old = LinkSigner(SECRET, clock=VirtualClock(wall_start=time.time() - 1000)).make(cid, "f", "address", "address", "Address")
    good = LinkSigner(SECRET).make(cid, "f", "address", "address", "Your address")
    forged = LinkSigner("an-attacker-secret-0123456789").make(cid, "f", "address", "address", "Address")
    with live_server(settings(tmp_path), fake_engines()) as base:
        async with httpx.AsyncClient(timeout=10) as http:
            for method in ("GET", "POST"):
                expired = await http.request(method, f"{base}/f/{old}", data={"value": "x"} if method == "POST" else None)
                assert expired.status_code == 410 and "This link has expired" in expired.text
                invalid = await http.request(method, f"{base}/f/{forged}", data={"value": "x"} if method == "POST" else None)
                assert invalid.status_code == 400 and "This link is not valid" in invalid.text
            page = await http.get(f"{base}/f/{good}")
            assert 'autocomplete="street-address"' in page.text and "<textarea" in page.text
            # No live call listens: the caller is told, and the link is not used up.
            orphan = await http.post(f"{base}/f/{good}", data={"value": "12 Baker Street"})
            assert orphan.status_code == 410 and "Your call has ended" in orphan.text
            async with RedisBus(REDIS).subscribe(cid) as messages:
                done = await http.post(f"{base}/f/{good}", data={"value": "12 Baker Street\r\nLondon"})
                assert done.status_code == 200
                assert (await next_message(messages))["value"] == "12 Baker Street\nLondon"
            upload = await http.post(f"{base}/f/{good}", files={"value": ("a.txt", b"x")})
            assert upload.status_code == 410  # used: checked before anything else is read


async def test_one_process_without_redis_uses_the_memory_bus(tmp_path: Path) -> None:
    server = VoiceServer(
        Settings.load(trace_dir="", data_dir=str(tmp_path)), fake_engines(), lambda name: front_desk()
    )
    assert isinstance(server.bus, MemoryBus)
    link = server.link_url("c1", form="contact", field="phone", kind="phone", label="A number to call back")
    assert link.startswith("http://127.0.0.1:8000/f/")
    assert stat.S_IMODE((tmp_path / "link-secret").stat().st_mode) == 0o600
    transport = httpx.ASGITransport(app=create_app(server))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        bus: CallBus = server.bus
        async with bus.subscribe("c1") as messages:
            page = await http.get(link)
            assert 'type="tel"' in page.text and "A number to call back" in page.text
            assert (await http.post(link, data={"value": "+1 555 123 0000"})).status_code == 200
            assert (await next_message(messages))["value"] == "+1 555 123 0000"


# ---------------------------------------------------------------------------------- in a browser
@pytest.fixture
async def subscription() -> AsyncIterator[tuple[str, Subscription]]:
    cid = call_id()
    async with RedisBus(REDIS).subscribe(cid) as messages:
        yield cid, messages


@pytest.mark.slow
async def test_a_caller_fills_in_the_form_in_chromium(
    tmp_path: Path, live_server: Server, subscription: tuple[str, Subscription]
) -> None:
    from playwright.async_api import async_playwright, expect

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is needed for the browser test: apt-get install chromium", pytrace=False)
    cid, messages = subscription
    token = LinkSigner(SECRET).make(cid, "delivery", "address", "address", "Where should we deliver?")
    problems: list[str] = []
    with live_server(settings(tmp_path), fake_engines()) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 700}, is_mobile=True, has_touch=True)
                page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                await page.goto(f"{base}/f/{token}")
                field = page.get_by_label("Where should we deliver?")
                await expect(field).to_be_visible()
                await expect(field).to_have_attribute("autocomplete", "street-address")
                await page.screenshot(path=SCREENSHOT)
                await field.press_sequentially("221B Baker Street")
                await field.press("Enter")  # a new line in the address, not a submit
                await field.press_sequentially("London NW1 6XE")
                await page.get_by_role("button", name="Send").click()
                await expect(page.get_by_role("heading")).to_have_text("Thank you")
                await expect(page.locator("main")).to_contain_text("Thanks, you can go back to your call.")
                assert not problems, problems  # (the 410 below is logged by Chromium: expected)
                await page.go_back()
                await page.reload()
                await expect(page.get_by_role("heading")).to_have_text("This link was already used")
            finally:
                await browser.close()
        message = await next_message(messages)
    assert message == {
        "type": "form.value", "form": "delivery", "field": "address", "value": "221B Baker Street\nLondon NW1 6XE", "kind": "address"
    }


async def test_a_bus_that_is_down_gives_the_caller_a_clear_page(tmp_path: Path) -> None:
    dead = Settings.load(trace_dir="", data_dir=str(tmp_path), redis_url="redis://127.0.0.1:1/0")
    server = VoiceServer(dead, fake_engines(), lambda name: front_desk())
    link = server.link_url("c1", form="contact", field="email", kind="email", label="E-mail")
    transport = httpx.ASGITransport(app=create_app(server))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        for reply in (await http.get(link), await http.post(link, data={"value": "a@example.com"})):
            assert reply.status_code == 503 and "Please try again in a moment." in reply.text
