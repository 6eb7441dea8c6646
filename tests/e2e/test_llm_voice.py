"""The real-LLM path: an OpenAI-compatible server (llama.cpp with SmolLM2) answering a call on a real
server over its WebSocket. The caller's turn is typed (``CallerText``), not spoken, so no speech
recognition is involved; what is real is the model, its tool round trip, and its streamed reply
spoken by the server's TTS and heard by the caller's client."""

from __future__ import annotations

from pathlib import Path

import e2e_agents
import pytest

from callwright import events as ev
from callwright.client import CallClient
from callwright.settings import Settings

pytestmark = pytest.mark.slow


async def test_llm_reply_streams_into_speech_with_a_tool_round_trip(
    tmp_path: Path, live_server, llm_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_LLM_URL", llm_server)
    e2e_agents.TOOL_CALLS.clear()
    with live_server(Settings.load(port=0, trace_dir=str(tmp_path), agent="e2e_agents:llm_with_tool")) as base:
        async with CallClient(base.replace("http://", "ws://") + "/ws") as client:
            await client.send_event(ev.CallerText(text="Where is my order 4567?"))
            turn = await client.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=120)
            texts = [e.text for e in client.received.of(ev.AgentText) if e.turn == 1]
            audio = client.received.agent_audio()
            await client.hangup()
    assert len(e2e_agents.TOOL_CALLS) == 1, "exactly one tool call round trip"
    assert texts and turn.text, "the model's streamed answer after the tool result is spoken"
    assert audio.size > 16000 * 0.5, "at least half a second of agent speech"
    stages = {e.stage for e in client.received.of(ev.Latency) if e.turn == 1}
    assert {"first_text", "first_audio_synth", "first_audio_sent"} <= stages
