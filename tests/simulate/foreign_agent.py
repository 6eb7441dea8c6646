"""A voice agent written without Callwright, for the simulator to call over Twilio Media Streams.

A toy "hours line" on the ``websockets`` library and numpy alone: it greets when the stream starts,
finds the end of the caller's speech by energy (at least 200 ms of voice, then 700 ms below the
threshold) and answers any question with the same recorded prompt. It reads and writes μ-law by
G.711's rule, sends a ``mark`` after each prompt (Twilio echoes it once the prompt has played), and
sends ``clear`` when the caller talks over it for 300 ms, as a Twilio agent does. It prints what
happened on its stdout, one line per thing, for the test to read.

    python foreign_agent.py --prompts DIR [--port 0]

``DIR`` holds ``greeting.wav`` and ``hours.wav`` (8 kHz, 16-bit mono). It prints
``listening on PORT`` once it accepts connections. It imports nothing of Callwright, and checks so.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import wave
from pathlib import Path

import numpy as np
from websockets.asyncio.server import ServerConnection, serve

FRAME_MS = 20
LOUD_DBFS = -40.0  # a 20 ms frame above this is the caller speaking
SPEECH_MS = 200  # voice needed before a pause counts as the end of a question
END_MS = 700  # the pause that ends it
BARGE_IN_MS = 300  # the caller talking over a prompt this long stops it


def mulaw_encode(pcm: np.ndarray) -> bytes:
    """G.711 μ-law, 16-bit linear in."""
    x = pcm.astype(np.int32)
    sign = (x < 0).astype(np.int32) << 7
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def mulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84 << ((u >> 4) & 0x07)) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def loud(pcm: np.ndarray) -> bool:
    power = float(np.mean(pcm.astype(np.float64) ** 2)) if pcm.size else 0.0
    return power > 0 and 10 * np.log10(power / 32768.0**2) > LOUD_DBFS


def read_prompt(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (8000, 2, 1):
            raise SystemExit(f"{path}: expected 8 kHz 16-bit mono")
        return mulaw_encode(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"))


def say(line: str) -> None:
    print(line, flush=True)  # noqa: T201  (this process reports to the test through its stdout)


class HoursLine:
    """One call: greet, then answer each question when the caller stops talking."""

    def __init__(self, ws: ServerConnection, prompts: dict[str, bytes]) -> None:
        self.ws = ws
        self.prompts = prompts
        self.stream_sid = ""
        self.talking: str | None = None  # the mark of the prompt being played, until it comes back
        self.voice_ms = 0
        self.quiet_ms = 0

    async def play(self, name: str) -> None:
        audio = self.prompts[name]
        for i in range(0, len(audio), 160):  # all at once: Twilio buffers it and plays it in time
            payload = base64.b64encode(audio[i : i + 160]).decode()
            await self.ws.send(json.dumps({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}))
        self.talking = name
        await self.ws.send(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}))
        say(f"said {name}")

    async def heard(self, pcm: np.ndarray) -> None:
        if loud(pcm):
            self.voice_ms += FRAME_MS
            self.quiet_ms = 0
        else:
            self.quiet_ms += FRAME_MS
        if self.talking is not None and self.voice_ms >= BARGE_IN_MS:
            await self.ws.send(json.dumps({"event": "clear", "streamSid": self.stream_sid}))
            say(f"cleared {self.talking}")
            self.talking = None
        if self.quiet_ms >= END_MS:
            if self.voice_ms >= SPEECH_MS and self.talking is None:
                say(f"heard {self.voice_ms} ms of speech")
                await self.play("hours")
            self.voice_ms = 0

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.get("event")
            if kind == "start":
                self.stream_sid = message["start"]["streamSid"]
                caller = message["start"].get("customParameters", {}).get("caller", "?")
                say(f"call from {caller} on {self.stream_sid}")
                await self.play("greeting")
            elif kind == "media":
                await self.heard(mulaw_decode(base64.b64decode(message["media"]["payload"])))
            elif kind == "mark":
                name = message["mark"]["name"]
                say(f"played {name}")
                if name == self.talking:
                    self.talking = None
            elif kind == "dtmf":
                say(f"key {message['dtmf']['digit']}")
            elif kind == "stop":
                say("stopped")
                break


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    prompts = {name: read_prompt(args.prompts / f"{name}.wav") for name in ("greeting", "hours")}
    assert not [m for m in sys.modules if m.split(".")[0] == "callwright"], "the foreign agent must not use Callwright"

    async def call(ws: ServerConnection) -> None:
        await HoursLine(ws, prompts).run()

    async with serve(call, "127.0.0.1", args.port) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        say(f"listening on {port}")
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main())
