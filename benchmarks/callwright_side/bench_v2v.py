"""Voice to voice with the real embedded stack: no stubs (Callwright only).

A real ``callwright`` server (``build_server`` + ``create_app`` under uvicorn, default engines:
Silero VAD, moonshine STT, Piper TTS; the built-in front-desk agent; default settings, e.g. 600 ms
endpoint silence) on a real localhost socket, in a background thread of this process. The caller
is :class:`callwright.client.CallClient` over the native WebSocket protocol, speaking espeak-ng
speech (``callwright.engines.tts.espeak.speak``, resampled to 16 kHz) in real time, one 20 ms
frame per 20 ms, and keeping the microphone open with silence while it waits, as a real client
does. Several calls with varied sentences the front desk answers; each turn waits until the
reply has played (``AgentTurn``) before the caller speaks again.

Reported, per stage, p50 / p95 over all turns:

* the server's own ``latency`` events (ms from the caller's speech end, on the server's clock):
  endpoint, stt_final, first_text, first_audio_synth, first_audio_sent, voice_to_voice;
* ``client_v2v_ms``: client-measured, from the moment the frame holding the caller's last voiced
  sample was sent to the arrival of the first agent audio of the reply (includes the WebSocket
  hops both ways, which the server's figure cannot see).

Runs on both CPUs, not pinned: the ONNX engines use a worker thread and the client shares the
process. Not a like-for-like comparison with anything; Pipecat has no equivalent run here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ -> common

import logging

from common import NoiseMeter, describe, emit, log, make_result, percentile, summary

logging.getLogger("callwright").setLevel(logging.WARNING)

STAGES = ["endpoint", "stt_final", "first_text", "first_audio_synth", "first_audio_sent", "voice_to_voice"]

# (sentence, what the front desk should answer with: a word of the expected reply)
CALLS = [
    ["what are your opening hours", "where is my order", "thank you", "hello there", "can I talk to a person"],
    ["hi", "when do you close today", "what is the status of my delivery", "thanks a lot", "what are your hours"],
    ["hello", "where is my delivery", "what time do you open", "thank you very much", "I want to speak to a human"],
    ["hey there", "thanks", "is my order on its way", "when are you open", "what food do you have"],
]


@contextmanager
def running_server(settings) -> Iterator[str]:
    """The server on a free localhost port in a background thread (as tests/e2e/conftest.py does)."""
    import uvicorn

    from callwright.server import build_server
    from callwright.transport.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, 0))
    host, port = sock.getsockname()[:2]
    settings = dataclasses.replace(settings, port=port)
    app = create_app(build_server(settings))
    config = uvicorn.Config(app, ws_max_size=1 << 20, lifespan="off", log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="uvicorn-bench", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        yield f"ws://{host}:{port}/ws"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def caller_says(text: str):
    from callwright.audio import resample
    from callwright.audio.pcm import speech_end
    from callwright.engines.tts.espeak import speak

    pcm, rate = speak(text, voice="en-us", rate_wpm=160)
    pcm = resample(pcm, rate, 16000)
    return pcm, speech_end(pcm, 16000)


async def one_call(url: str, sentences: list[str], turn_timeout: float) -> list[dict]:
    from callwright import events as ev
    from callwright.client import CallClient

    out = []
    async with CallClient(url, caller="+15550100") as client:
        await client.listen_until(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=60)
        await client.silence(0.3)
        for i, sentence in enumerate(sentences, start=1):
            pcm, voiced_s = caller_says(sentence)
            t_start = time.perf_counter()
            await client.speak(pcm)
            last_voiced_frame = max(0, int(voiced_s / 0.02 - 1e-9))
            t_speech_end = t_start + last_voiced_frame * 0.02
            last = i == len(sentences)
            if last:
                # the last turn is not waited out (the menu reply is ~25 s): first audio, then hang up
                await client.listen_until(
                    lambda e, i=i: isinstance(e, ev.Latency) and e.turn == i and e.stage == "voice_to_voice",
                    timeout=turn_timeout,
                )
            else:
                await client.listen_until(lambda e, i=i: isinstance(e, ev.AgentTurn) and e.turn == i, timeout=turn_timeout)
            first_audio = client.received.first_audio_after(t_speech_end)
            stages = {e.stage: e.ms for e in client.received.of(ev.Latency) if e.turn == i}
            final = next((e.text for e in client.received.of(ev.TranscriptFinal) if e.turn == i), None)
            reply = next((e.text for e in client.received.of(ev.AgentText) if e.turn == i), None)
            rec = {
                "sentence": sentence,
                "heard": final,
                "reply_first_sentence": reply,
                "client_v2v_ms": None if first_audio is None else round((first_audio - t_speech_end) * 1000, 1),
                **{s: stages.get(s) for s in STAGES},
            }
            out.append(rec)
            log(f"v2v turn {i}: {sentence!r} -> {final!r}: server v2v {rec['voice_to_voice']} ms, client {rec['client_v2v_ms']} ms")
            if not last:
                await client.silence(0.4)
        await client.hangup()
    return out


async def run_all(url: str, calls: list[list[str]], turn_timeout: float) -> list[dict]:
    turns = []
    for sentences in calls:
        turns.extend(await one_call(url, sentences, turn_timeout))
    return turns


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="accepted for symmetry; the run is real time either way")
    p.add_argument("--calls", type=int, default=len(CALLS), help=f"calls (max {len(CALLS)}), 5 turns each")
    p.add_argument("--turn-timeout", type=float, default=60.0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    from callwright.settings import Settings

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(port=0, trace_dir=str(Path(tmp) / "traces"), log_level="warning")
        t_srv = time.monotonic()
        with running_server(settings) as url:
            server_start_s = time.monotonic() - t_srv
            log(f"v2v: server up in {server_start_s:.1f} s at {url} (stt={settings.stt}, tts={settings.tts}, vad={settings.vad})")
            meter = NoiseMeter().start()
            turns = asyncio.run(run_all(url, CALLS[: args.calls], args.turn_timeout))
            others = meter.stop()

    metrics: dict[str, dict] = {}
    for s in [*STAGES, "client_v2v_ms"]:
        vals = [t[s] for t in turns if t.get(s) is not None]
        d = describe(vals)
        key = s if s.endswith("_ms") else f"{s}_ms"
        metrics[f"{key}.p50"] = summary([d["p50"]] if vals else [])
        metrics[f"{key}.p95"] = summary([percentile(vals, 95)] if vals else [])
        metrics[f"{key}.n"] = summary([d["n"]])
    meta = {
        "engines": {"vad": settings.vad, "stt": settings.stt, "tts": settings.tts, "agent": settings.agent},
        "endpoint_silence_ms": settings.endpoint_silence_ms,
        "calls": args.calls,
        "turns": turns,
        "server_start_s": round(server_start_s, 2),
        "pinned": "no: 2 CPUs, server + client in one process (ONNX engines use worker threads)",
        "client_v2v": "first agent audio received - send time of the caller's last voiced 20 ms frame",
        "noise": {"others_cpu_cores": round(others, 3)},
        "elapsed_s": round(time.monotonic() - t0, 2),
    }
    emit(make_result("callwright", "V2V", "default", "embedded", metrics, meta), args.out)
    # The ONNX runtime's threads can abort a normal interpreter exit ("terminate called without an
    # active exception"); everything is written, so leave at once.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
