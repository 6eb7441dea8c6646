"""End to end with real parts: a real server on a real socket, the embedded engines (Silero VAD,
moonshine STT, Piper TTS), caller speech from espeak-ng streamed in real time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import e2e_agents
import jiwer
import numpy as np
import pytest

from callwright import events as ev
from callwright.client import CallClient
from callwright.engines.registry import build_stt
from callwright.settings import Settings
from callwright.testing.voice import caller_says
from callwright.transport.twilio_peer import TwilioPeer

pytestmark = pytest.mark.slow

NUMBERS = {"8": "eight", "20": "twenty"}


def normalise(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d+", lambda m: NUMBERS.get(m.group(0), m.group(0)), text)
    return re.sub(r"[^a-z0-9' ]+", " ", text).strip()


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


async def transcribe(pcm: np.ndarray, rate: int) -> str:
    """An independent judge of what the agent's audio says: Whisper, not the agent's own STT."""
    return (await build_stt("whisper").transcribe(pcm, rate)).text


def settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {"port": 0, "trace_dir": str(tmp_path / "traces")}
    base.update(kw)
    return Settings.load(**base)


def trace(tmp_path: Path) -> list[object]:
    files = sorted((tmp_path / "traces").glob("*.jsonl"))
    assert len(files) == 1, files
    return [ev.parse_server_event(json.loads(line)) for line in files[0].read_text().splitlines()]


async def greeted(client: CallClient) -> None:
    await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=30)


def ws_url(base: str, path: str = "/ws") -> str:
    return base.replace("http://", "ws://") + path


# ------------------------------------------------------------------------------------------ native
async def test_spoken_turn_is_heard_answered_and_the_answer_is_intelligible(tmp_path: Path, live_server) -> None:
    sentence = "what are your opening hours"
    with live_server(settings(tmp_path)) as base:
        async with CallClient(ws_url(base), caller="+15551234567") as client:
            await greeted(client)
            spoke_until = await client.speak(caller_says(sentence))
            await client.silence(1.2)
            final = await client.wait_for(lambda e: isinstance(e, ev.TranscriptFinal), timeout=30)
            reply = await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=30)
            audio = client.received.agent_audio(after=spoke_until)
            await client.hangup()
            ended = await client.wait_for(lambda e: isinstance(e, ev.CallEnded), timeout=10)
    assert wer(sentence, final.text) <= 0.2, final.text
    assert final.confidence is None or 0 <= final.confidence <= 1
    assert "eight in the morning" in reply.text and not reply.interrupted
    heard_back = await transcribe(audio, 16000)
    assert wer(reply.text, heard_back) <= 0.2, heard_back
    stages = {e.stage: e.ms for e in client.received.of(ev.Latency) if e.turn == 1}
    assert set(stages) == {"endpoint", "stt_final", "first_text", "first_audio_synth", "first_audio_sent", "voice_to_voice"}
    order = ["endpoint", "stt_final", "first_text", "first_audio_synth", "first_audio_sent"]
    assert [stages[s] for s in order] == sorted(stages[s] for s in order)  # stages add up in order
    assert ended.reason == "hangup"
    recorded = trace(tmp_path)
    assert type(recorded[0]) is ev.CallStarted and isinstance(recorded[-1], ev.CallEnded)
    assert any(isinstance(e, ev.TranscriptFinal) and e.text == final.text for e in recorded)


async def test_barge_in_backchannel_and_echo(tmp_path: Path, live_server) -> None:
    e2e_agents.CONTEXTS.clear()
    with live_server(settings(tmp_path, agent="e2e_agents:context_probe")) as base:
        # 1. A real interruption one second into a long reply.
        async with CallClient(ws_url(base)) as client:
            await greeted(client)
            await client.speak(caller_says("what food do you have"))
            await client.silence(0.8)
            await client.wait_for(lambda e: isinstance(e, ev.Latency) and e.turn == 1 and e.stage == "first_audio_sent", timeout=30)
            await client.silence(1.0)
            await client.speak(caller_says("wait, I want to order a sandwich please"))
            await client.silence(1.0)
            barge = await client.wait_for(lambda e: isinstance(e, ev.BargeIn), timeout=20)
            await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 2, timeout=30)
            cut = next(e for e in client.received.of(ev.AgentTurn) if e.turn == 1)
            clear_at = next(t for e, t in zip(client.received.events, client.received.event_times, strict=True) if isinstance(e, ev.Clear))
            next_text_at = next(
                t for e, t in zip(client.received.events, client.received.event_times, strict=True)
                if isinstance(e, ev.AgentText) and e.turn == 2
            )
            await client.hangup()
        assert cut.interrupted and cut.text == barge.heard_text
        assert 0 < len(cut.text) < len(cut.planned_text) and cut.planned_text.startswith(cut.text.rstrip("."))
        # Agent audio stopped at the barge-in: no sample of the cut turn arrived after the clear.
        assert not [t for t, _ in client.received.audio if clear_at < t < next_text_at]
        # The agent's next context holds what the caller heard, not what it planned to say.
        assert ("assistant", cut.text) in e2e_agents.CONTEXTS[-1]
        assert ("assistant", cut.planned_text) not in e2e_agents.CONTEXTS[-1]

        # 2. A backchannel does not stop the agent.
        async with CallClient(ws_url(base)) as client:
            await greeted(client)
            await client.speak(caller_says("what food do you have"))
            await client.silence(0.8)
            await client.wait_for(lambda e: isinstance(e, ev.Latency) and e.turn == 1 and e.stage == "first_audio_sent", timeout=30)
            await client.silence(1.0)
            await client.speak(caller_says("mm-hmm"))
            await client.silence(1.5)
            await client.speak(caller_says("okay"))
            reply = await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=40)
            ignored = client.received.of(ev.SpeechIgnored)
            await client.hangup()
        assert not reply.interrupted and not client.received.of(ev.BargeIn)
        assert ignored, "the backchannels should be recorded as ignored speech"

        # 3. The agent's own voice leaking back into the microphone (speakerphone) does not stop it.
        async with CallClient(ws_url(base), echo_gain=0.35, echo_delay_ms=150) as client:
            await client.listen_until(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
            await client.silence(0.5)
            await client.speak(caller_says("what food do you have"))
            await client.silence(0.8)
            await client.listen_until(lambda e: isinstance(e, ev.Latency) and e.turn == 1 and e.stage == "first_audio_sent", timeout=30)
            done = None
            with anyio.move_on_after(40):
                while done is None:
                    await client.silence(0.2)
                    done = next((e for e in client.received.of(ev.AgentTurn) if e.turn == 1), None)
            await client.hangup()
        assert done is not None and not done.interrupted, [e for e in client.received.events if isinstance(e, (ev.BargeIn, ev.SpeechIgnored))]
        assert any(e.reason == "echo" for e in client.received.of(ev.SpeechIgnored))


# ------------------------------------------------------------------------------------------ twilio
async def test_twilio_media_stream_with_marks_and_clear(tmp_path: Path, live_server) -> None:
    with live_server(settings(tmp_path)) as base:
        async with await TwilioPeer.answer(f"{base}/twilio/voice", caller="+15557654321") as phone:
            # the greeting plays; marks come back as it plays
            await phone.silence(0.5)
            for _ in range(300):
                if phone.log.of("media") and not phone._buffer:
                    break
                await phone.silence(0.1)
            await phone.silence(0.3)
            await phone.speak(caller_says("what food do you have", 8000))
            await phone.silence(0.8)
            with anyio.fail_after(60):  # real time: the reply is real speech; this only bounds a hang
                while len(phone.log.of("media")) < 400:  # wait for the long reply, then let a second of it play
                    await phone.silence(0.1)
            await phone.silence(1.0)
            await phone.speak(caller_says("stop, I would like to order a sandwich", 8000))
            await phone.silence(1.5)
            await phone.stop()
            with anyio.fail_after(10):
                await phone.closed.wait()
    events = trace(tmp_path)
    started = next(e for e in events if isinstance(e, ev.CallStarted))
    assert started.transport == "twilio" and started.caller == "+15557654321" and started.input_sample_rate == 8000
    final = next(e for e in events if isinstance(e, ev.TranscriptFinal))
    assert wer("what food do you have", final.text) <= 0.2, final.text
    barge = next(e for e in events if isinstance(e, ev.BargeIn))
    assert phone.log.clears, "Twilio must be told to clear its buffer on barge-in"
    assert phone.log.marks_echoed, "marks must be echoed as audio plays"
    # the cursor moved with the marks Twilio echoed for that turn before the clear
    echoed = [name.split(":") for name in phone.log.marks_echoed if name.startswith(f"{barge.turn}:")]
    acked = [int(samples) for _, sentence, samples in echoed if sentence != "0"]  # sentence ends, not the first frame
    assert acked and barge.heard_ms >= min(acked) / 8
    # The mark after the reply's first frame came back too: that is the turn's voice_to_voice.
    assert [samples for _, sentence, samples in echoed if sentence == "0"] == ["160"]
    stages = [e.stage for e in events if isinstance(e, ev.Latency) and e.turn == barge.turn]
    assert stages[-2:] == ["first_audio_sent", "voice_to_voice"], stages
    cut = next(e for e in events if isinstance(e, ev.AgentTurn) and e.turn == barge.turn)
    assert cut.interrupted and cut.text == barge.heard_text
    ended = events[-1]
    assert isinstance(ended, ev.CallEnded) and ended.reason == "hangup"
    # the agent's audio over μ-law is still intelligible
    greeting_audio = np.concatenate(phone.log.played)[: 8000 * 5]
    assert "thanks for calling" in normalise(await transcribe(greeting_audio, 8000))
