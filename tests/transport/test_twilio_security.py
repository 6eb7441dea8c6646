"""Only Twilio may use the Twilio routes: signatures checked against the configured public URL (never
the Host header), forged and missing ones refused with 403, the media stream bound to a call this
server answered, and unsigned requests accepted only on a server nobody else can reach."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callwright.clock import VirtualClock
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.settings import Settings
from callwright.transport.bus import MemoryBus
from callwright.transport.twilio_peer import TwilioPeer
from callwright.transport.twilio_security import TwilioCalls, signature, unsigned_allowed, valid_signature
from callwright.voice.call import Engines

AUTH = "f3a9c1d27e5b4a6890c1d2e3f4a5b6c7"  # an auth token's shape: 32 hex characters
PUBLIC = "https://voice.example.com"


def fake_engines() -> Engines:
    return Engines(FakeStt(["hello"]), FakeTts(ms_per_char=10), EnergyVad())


# Twilio's documented example (https://www.twilio.com/docs/usage/security#validating-requests and the
# request-validation examples of its helper libraries): auth token 12345, this URL and these parameters.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309", "To": "+18005551212"}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
# The same example as the docs printed it before (caller +12349013030).
OLD_PARAMS = {**DOC_PARAMS, "Caller": "+12349013030", "From": "+12349013030"}
OLD_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_signature_is_twilios_documented_scheme() -> None:
    assert signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert signature("12345", DOC_URL, OLD_PARAMS) == OLD_SIGNATURE
    assert signature("12345", DOC_URL, list(reversed(DOC_PARAMS.items()))) == DOC_SIGNATURE  # order does not matter
    assert valid_signature("12345", DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    # Twilio may add or drop the scheme's default port.
    assert valid_signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE)
    # Every input counts: another token, URL, parameter value or parameter fails.
    assert not valid_signature("12346", DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    assert not valid_signature("12345", DOC_URL + "&baz=3", DOC_PARAMS, DOC_SIGNATURE)
    assert not valid_signature("12345", DOC_URL.replace("https", "http"), DOC_PARAMS, DOC_SIGNATURE)
    assert not valid_signature("12345", DOC_URL, {**DOC_PARAMS, "Digits": "1235"}, DOC_SIGNATURE)
    assert not valid_signature("12345", DOC_URL, {**DOC_PARAMS, "Extra": ""}, DOC_SIGNATURE)
    assert not valid_signature("12345", DOC_URL, DOC_PARAMS, "")
    assert not valid_signature("12345", DOC_URL, DOC_PARAMS, None)
    assert not valid_signature("12345", DOC_URL, DOC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8")


def test_unsigned_requests_are_allowed_only_where_nobody_else_reaches_the_server() -> None:
    assert unsigned_allowed(Settings.load())
    assert unsigned_allowed(Settings.load(public_url="http://localhost:8000"))
    assert not unsigned_allowed(Settings.load(public_url=PUBLIC))  # a tunnel or proxy to a loopback server
    assert not unsigned_allowed(Settings.load(host="0.0.0.0", token="s3cret"))
    assert not unsigned_allowed(Settings.load(twilio_auth_token=AUTH))  # with a token, always verified


async def test_a_calls_mark_lasts_its_longest_call_plus_a_quarter_hour() -> None:
    clock = VirtualClock()
    calls = TwilioCalls(MemoryBus(clock=clock), max_call_s=60)
    token = await calls.admit("CA1")
    assert await calls.stream_allowed("CA1", token) and not await calls.stream_allowed("CA1", token[:-1])
    assert not await calls.stream_allowed("CA2", token) and not await calls.answered("CA2")
    clock.advance(60 + 900 - 0.5)
    assert await calls.answered("CA1")
    clock.advance(1)
    assert not await calls.answered("CA1") and not await calls.stream_allowed("CA1", token)


def signed(url: str, form: dict[str, str], token: str = AUTH) -> dict[str, str]:
    return {"X-Twilio-Signature": signature(token, url, form)}


async def test_webhooks_need_twilios_signature_for_the_public_url(live_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    form = {"CallSid": "CA" + "1" * 32, "From": "+15551230000", "To": "+15559870000"}
    settings = Settings.load(port=0, trace_dir="", public_url=PUBLIC, twilio_auth_token=AUTH)
    with live_server(settings, fake_engines()) as base:
        local_url = f"{base}/twilio/voice"
        async with httpx.AsyncClient(base_url=base) as http:
            missing = await http.post("/twilio/voice", data=form)
            forged = await http.post("/twilio/voice", data=form, headers=signed(f"{PUBLIC}/twilio/voice", form, token="0" * 32))
            host_url = await http.post("/twilio/voice", data=form, headers=signed(local_url, form))  # signed for the Host it reached
            tampered = await http.post(
                "/twilio/voice", data={**form, "From": "+15550000000"}, headers=signed(f"{PUBLIC}/twilio/voice", form)
            )
            good = await http.post(
                "/twilio/voice", data=form, headers={**signed(f"{PUBLIC}/twilio/voice", form), "Host": "evil.example"}
            )
            query = "CallSid=" + form["CallSid"]
            by_get = await http.get(f"/twilio/voice?{query}", headers=signed(f"{PUBLIC}/twilio/voice?{query}", {}))
            after_missing = await http.post("/twilio/after", data=form)
    for refused in (missing, forged, host_url, tampered, after_missing):
        assert refused.status_code == 403, refused.text
    assert "missing X-Twilio-Signature" in missing.text
    assert f"does not match a request from Twilio to {PUBLIC}/twilio/voice" in forged.text
    assert good.status_code == 200 and by_get.status_code == 200, (good.text, by_get.text)
    stream = ET.fromstring(good.text).find("Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://voice.example.com/twilio/stream"  # not evil.example
    assert [p.get("name") for p in stream.findall("Parameter")] == ["caller", "called", "callwright_token"]
    # Refusals are logged, without the auth token or any signature.
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused POST /twilio/")]
    assert len(refusals) == 5, refusals
    assert AUTH not in caplog.text and signature(AUTH, f"{PUBLIC}/twilio/voice", form) not in caplog.text


async def close_of(url: str, start: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int | None, str | None]:
    """Open a stream, send ``connected`` and ``start``; return how the server closed it."""
    async with connect(url, additional_headers=headers) as sock:
        await sock.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await sock.send(json.dumps({"event": "start", "start": start, "streamSid": "MZ1"}))
        with anyio.fail_after(10):
            try:
                async for _ in sock:
                    pass
            except ConnectionClosed:
                pass
        return sock.close_code, sock.close_reason


async def test_the_stream_needs_its_signature_and_the_token_of_its_call(live_server: Any) -> None:
    """The public URL here is the server's own, so the real Twilio peer can follow the TwiML."""
    import socket

    with socket.socket() as probe:  # a free port, to name in the public URL before the server starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    public = f"http://127.0.0.1:{port}"
    settings = Settings.load(port=port, trace_dir="", public_url=public, twilio_auth_token=AUTH)
    with live_server(settings, fake_engines()) as base:
        assert base == public
        peer = await TwilioPeer.answer(f"{base}/twilio/voice", auth_token=AUTH)
        other = await TwilioPeer.answer(f"{base}/twilio/voice", auth_token=AUTH)
        stream_url = f"ws://127.0.0.1:{port}/twilio/stream"
        assert peer.url == stream_url
        # A real call: signed upgrade, the call's token in start.customParameters.
        async with peer:
            with anyio.fail_after(10):
                while not peer.log.of("media"):
                    await peer.silence(0.1)
            await peer.stop()
        # Unsigned or forged upgrades are refused at the handshake.
        for headers in (None, {"X-Twilio-Signature": signature("0" * 32, stream_url)}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(stream_url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 403
            assert b"X-Twilio-Signature" in refused.value.response.body
        # Signed, but the start names no token, a wrong one, or another call's.
        good = {"X-Twilio-Signature": signature(AUTH, stream_url)}
        fmt = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
        token = peer.parameters["callwright_token"]
        for start in (
            {"callSid": peer.call_sid, "mediaFormat": fmt, "customParameters": {}},
            {"callSid": peer.call_sid, "mediaFormat": fmt, "customParameters": {"callwright_token": token + "x"}},
            {"callSid": other.call_sid, "mediaFormat": fmt, "customParameters": {"callwright_token": token}},
            {"callSid": "CA" + "9" * 32, "mediaFormat": fmt, "customParameters": {"callwright_token": token}},
        ):
            assert await close_of(stream_url, start, good) == (1008, "forbidden"), start
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{base}/healthz")).json()
    assert health["finished"] == 1 and health["calls"] == 0  # only the real call ran


async def test_after_answers_only_calls_this_server_answered(live_server: Any) -> None:
    with live_server(Settings.load(port=0, trace_dir=""), fake_engines()) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            stranger = await http.post("/twilio/after", data={"CallSid": "CA" + "2" * 32})
            answered = await http.post("/twilio/voice", data={"CallSid": "CA" + "3" * 32})
            after = await http.post("/twilio/after", data={"CallSid": "CA" + "3" * 32})
            missing = await http.post("/twilio/voice", data={"From": "+15551230000"})
    assert stranger.status_code == 404 and "no call with this CallSid was answered here" in stranger.text
    assert answered.status_code == 200 and after.status_code == 200
    assert ET.fromstring(after.text)[0].tag == "Hangup"
    assert missing.status_code == 400 and "CallSid" in missing.text


async def test_without_an_auth_token_twilio_routes_answer_only_on_loopback(live_server: Any) -> None:
    form = {"CallSid": "CA" + "4" * 32}
    # Loopback, no public URL: local development; the tests' Twilio peer needs no signature.
    with live_server(Settings.load(port=0, trace_dir=""), fake_engines()) as base:
        peer = await TwilioPeer.answer(f"{base}/twilio/voice")
        async with peer:
            with anyio.fail_after(10):
                while not peer.log.of("media"):
                    await peer.silence(0.1)
    # Reachable through a public URL (a tunnel, a proxy): nothing unsigned is accepted.
    with live_server(Settings.load(port=0, trace_dir="", public_url=PUBLIC), fake_engines()) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            voice = await http.post("/twilio/voice", data=form)
            after = await http.post("/twilio/after", data=form)
        with pytest.raises(InvalidStatus) as stream:
            async with connect(base.replace("http://", "ws://") + "/twilio/stream"):
                pass
    assert voice.status_code == after.status_code == stream.value.response.status_code == 403
    assert "set twilio_auth_token" in voice.text


async def test_a_failing_call_bus_refuses_clearly_and_the_server_keeps_serving(live_server: Any) -> None:
    settings = Settings.load(port=0, trace_dir="", redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    fmt = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    with live_server(settings, fake_engines()) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            voice = await http.post("/twilio/voice", data={"CallSid": "CA" + "5" * 32})
            after = await http.post("/twilio/after", data={"CallSid": "CA" + "5" * 32})
        stream = await close_of(
            base.replace("http://", "ws://") + "/twilio/stream",
            {"callSid": "CA" + "5" * 32, "mediaFormat": fmt, "customParameters": {"callwright_token": "x"}},
        )
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{base}/healthz")
    assert voice.status_code == 503 and "the call bus failed" in voice.text
    assert after.status_code == 200 and ET.fromstring(after.text)[0].tag == "Hangup"  # Twilio hangs up, no error message
    assert stream == (1011, "bus")
    assert health.status_code == 200
