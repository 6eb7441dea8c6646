"""Warm transfer on phone calls: the TwiML names an action URL; once the stream closes, Twilio gets
<Dial> for a call marked for transfer (by any worker) and <Hangup/> otherwise. The <Dial> names a
whisper URL per <Number>: the person who answers hears the call's summary before being connected."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from callwright.agent.base import Agent, Context, Say, Turn
from callwright.agent.scripted import front_desk
from callwright.clock import VirtualClock
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.observe.trace import read_trace
from callwright.settings import Settings
from callwright.testing.server import running_server
from callwright.transport.app import VoiceServer
from callwright.transport.bus import MemoryBus, RedisBus
from callwright.transport.transfers import SupportsTransfer, TransferError, Transfers
from callwright.transport.twilio import TRANSFER_MARK, twiml_whisper
from callwright.transport.twilio_peer import TwilioPeer
from callwright.transport.twilio_security import signature
from callwright.voice.call import CallIO, Engines

REDIS = "redis://127.0.0.1:6379/0"
PERSON = "+15551230000"
SUMMARY = 'Transferred call from Ann Lee, on 555-000-1111. Reason: the caller asked. They said: "a person please".'


def fake_engines() -> Engines:
    return Engines(FakeStt(["hello"]), FakeTts(ms_per_char=10), EnergyVad())


def twiml(text: str) -> ET.Element:
    return ET.fromstring(text)


async def test_the_twiml_names_the_action_url(live_server: Any) -> None:
    with live_server(Settings.load(port=0, trace_dir=""), fake_engines()) as base:
        async with httpx.AsyncClient() as http:
            reply = await http.post(f"{base}/twilio/voice", data={"CallSid": "CA1", "From": "+15550001111"})
    connect = twiml(reply.text).find("Connect")
    assert connect is not None and connect.get("action") == f"{base}/twilio/after"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == base.replace("http://", "ws://") + "/twilio/stream"

    # Behind a proxy, with Twilio's signature: the URLs come from the public URL and carry no token.
    settings = Settings.load(port=0, trace_dir="", token="s3cret", public_url="https://voice.example.com/", twilio_auth_token="t" * 32)
    with live_server(settings, fake_engines()) as base:
        form = {"CallSid": "CA1"}
        async with httpx.AsyncClient() as http:
            signed = {"X-Twilio-Signature": signature("t" * 32, "https://voice.example.com/twilio/voice", form)}
            reply = await http.post(f"{base}/twilio/voice", data=form, headers=signed)
            signed = {"X-Twilio-Signature": signature("t" * 32, "https://voice.example.com/twilio/after", form)}
            refused = await http.post(f"{base}/twilio/after?token=s3cret", data=form)  # the server token is no signature
            after = await http.post(f"{base}/twilio/after", data=form, headers=signed)
    connect = twiml(reply.text).find("Connect")
    assert connect is not None and connect.get("action") == "https://voice.example.com/twilio/after"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://voice.example.com/twilio/stream"
    assert refused.status_code == 403 and after.status_code == 200
    assert twiml(after.text)[0].tag == "Hangup"  # answered here, not marked for a transfer


async def test_a_marked_call_is_dialled_after_its_stream_closes(tmp_path: Path, live_server: Any) -> None:
    """One server holds the streams; the transfer is recorded by another worker (this test) in Redis."""
    settings = Settings.load(port=0, trace_dir="", redis_url=REDIS)
    other_worker = Transfers(RedisBus(REDIS))
    with live_server(settings, fake_engines()) as base:
        marked = await TwilioPeer.answer(f"{base}/twilio/voice")
        unmarked = await TwilioPeer.answer(f"{base}/twilio/voice")
        assert marked.action_url == f"{base}/twilio/after"
        for peer in (marked, unmarked):
            async with peer:
                with anyio.fail_after(10):
                    while not peer.log.of("media"):  # the greeting: the call is live
                        await peer.silence(0.1)
                if peer is marked:
                    await other_worker.request(peer.call_sid, PERSON, SUMMARY)
                await peer.stop()
                after = await peer.follow_action()
            verb = twiml(after)[0]
            if peer is marked:
                assert verb.tag == "Dial" and verb.get("answerOnBridge") == "true", after
                (number,) = verb
                assert (number.tag, number.text) == ("Number", PERSON), after
                assert number.get("url") == f"{base}/twilio/whisper?call={peer.call_sid}"
                person = await marked.answer_dial(after)  # Twilio, once the person picks up
                assert person.number == PERSON and person.said == [SUMMARY], person.whisper
            else:
                assert verb.tag == "Hangup", after
        async with httpx.AsyncClient() as http:
            stranger = await http.post(f"{base}/twilio/after", data={"CallSid": "CA" + "f" * 32})
            nonsense = await http.post(f"{base}/twilio/after", data={"CallSid": "<script>"})
    # A CallSid this server never answered gets no TwiML at all (no <Dial> number to learn).
    assert stranger.status_code == 404 and nonsense.status_code == 404
    assert "no call with this CallSid was answered here" in stranger.text


async def test_the_whisper_is_escaped_and_a_transfer_without_one_connects_at_once(live_server: Any) -> None:
    settings = Settings.load(port=0, trace_dir="", token="s3cret")
    with live_server(settings, fake_engines()) as base:
        peer = TwilioPeer("", caller="+15550001111")  # a call nobody marked
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{base}/twilio/whisper?call={peer.call_sid}")
            unknown = await http.post(f"{base}/twilio/whisper?call={peer.call_sid}&token=s3cret")
    assert refused.status_code == 401
    assert unknown.status_code == 200 and twiml(unknown.text).tag == "Response" and len(twiml(unknown.text)) == 0

    transfers = Transfers(MemoryBus())
    await transfers.request("CA1", PERSON, 'Ann <"Smith"> & co asked: "where is 12?"')
    say = twiml(twiml_whisper(await transfers.whisper("CA1")))[0]
    assert (say.tag, say.text) == ("Say", 'Ann <"Smith"> & co asked: "where is 12?"')
    await transfers.request("CA2", PERSON)
    assert await transfers.whisper("CA2") is None and await transfers.target("CA2") == PERSON
    assert await transfers.whisper("<script>") is None
    assert twiml(twiml_whisper(None)).tag == "Response" and len(twiml(twiml_whisper(None))) == 0


async def test_transfers_need_a_phone_number_and_expire() -> None:
    clock = VirtualClock()
    transfers = Transfers(MemoryBus(clock=clock), ttl_s=60)
    await transfers.request("CA1", "+1 (555) 123-0000", "a summary")
    assert await transfers.target("CA1") == PERSON and await transfers.whisper("CA1") == "a summary"
    clock.advance(61)
    assert await transfers.target("CA1") is None and await transfers.whisper("CA1") is None
    for bad in ("front desk", "123", "+0123456789"):
        with pytest.raises(TransferError, match=r"E\.164"):
            await transfers.request("CA1", bad)
    with pytest.raises(TransferError, match="CallSid"):
        await transfers.request("CA1:*", PERSON)


# ------------------------------------------------------------- the transport's hand-over, end to end
class KeypadTransfer(Agent):
    """Presses on the phone's keypad decide: 0 hands over to PERSON, 9 to a number that is not one."""

    name = "keypad-transfer"

    def __init__(self, io: CallIO) -> None:
        self.io = io

    def greeting(self, context: Context) -> str | None:
        return "Hello, press zero for a person."

    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Any]:
        assert isinstance(self.io, SupportsTransfer)
        if turn.text == "9":
            self.io.transfer("the manager")
            yield Say("Sorry.")
        elif turn.text == "0":
            self.io.transfer(PERSON)


class KeypadServer(VoiceServer):
    """A server whose agent holds the call's transport: what the Call will do for a TransferCall act."""

    def new_call(self, io: CallIO, *, caller: str | None, transport: str, agent: str | None = None) -> Any:
        call = super().new_call(io, caller=caller, transport=transport, agent=agent)
        call.agent = KeypadTransfer(io)
        return call


async def test_the_stream_closes_for_the_transfer_once_the_audio_has_played(tmp_path: Path) -> None:
    settings = Settings.load(port=0, trace_dir=str(tmp_path))  # one process: the memory bus

    def keypad(settings: Settings) -> KeypadServer:  # settings that name the port the server got
        return KeypadServer(settings, fake_engines(), lambda name: front_desk())

    with running_server(settings, build=keypad) as base:
        peer = await TwilioPeer.answer(f"{base}/twilio/voice")
        async with peer:
            await peer.silence(0.5)
            await peer.press("9")  # not a phone number: the call goes on
            await peer.silence(0.5)
            await peer.press("0")
            with anyio.fail_after(10):
                while not peer.closed.is_set():
                    await peer.silence(0.1)  # plays what the server sent, echoing its marks
            after = await peer.follow_action()
    dial = twiml(after)[0]
    assert dial.tag == "Dial" and [(n.tag, n.text) for n in dial] == [("Number", PERSON)]
    # The transfer mark was the last thing sent, and the peer echoed it: a mark comes back only
    # once the audio before it has played, so the caller heard everything before the hand-over.
    assert peer.log.of("mark")[-1]["mark"]["name"] == TRANSFER_MARK == peer.log.marks_echoed[-1]
    (path,) = tmp_path.glob("*.jsonl")
    trace = read_trace(path)
    errors = [e for e in trace if getattr(e, "type", "") == "error"]
    assert [e.code for e in errors] == ["transfer_failed"] and "E.164" in errors[0].message
    assert trace[-1].type == "call.ended" and trace[-1].reason == "transfer"
