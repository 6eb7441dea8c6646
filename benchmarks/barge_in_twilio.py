"""How long a caller talks over the agent before its audio stops, over Twilio Media Streams.

``python benchmarks/barge_in_twilio.py [--trials 5]`` (about 20 s per trial on 2 cores, after ~20 s
of model loading). A real server on a real socket with the default engines (Silero VAD, moonshine,
Piper) and its default barge-in options; ``TwilioPeer`` plays Twilio's side (8 kHz mu-law, real
time, plays what the server sends and drops it on ``clear``); espeak-ng speaks as the caller.

Each trial asks the built-in front desk something with a long answer, lets about a second of it
play, then talks over it. Measured on the caller's side: from the first loud 20 ms of the
interruption leaving the phone to Twilio receiving ``clear`` (when a real phone stops playing the
agent). The server's trace adds how much voiced speech the decision had heard (``barge_in.speech_ms``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import numpy as np

from callwright.audio import resample
from callwright.audio.pcm import rms_dbfs
from callwright.engines.tts.espeak import speak
from callwright.settings import Settings
from callwright.testing.server import running_server
from callwright.transport.twilio_peer import TwilioPeer

INTERRUPTIONS = [
    "stop, I would like to order a sandwich",
    "wait, can I ask about delivery instead",
    "sorry, do you have anything vegan",
    "hold on, what time do you close today",
    "excuse me, I need to change my order",
]


def says(text: str) -> np.ndarray:
    pcm, rate = speak(text, voice="en-us", rate_wpm=160)
    return resample(pcm, rate, 8000)


def onset_s(pcm: np.ndarray, threshold_dbfs: float = -40.0) -> float:
    """Seconds to the first 20 ms window louder than ``threshold_dbfs``."""
    for i in range(0, pcm.size, 160):
        if rms_dbfs(pcm[i : i + 160]) > threshold_dbfs:
            return i / 8000
    raise ValueError("no speech in the interruption")


async def trial(base: str, interruption: str) -> dict[str, float] | None:
    url = base.replace("http://", "ws://") + "/twilio/stream"
    async with TwilioPeer(url, caller="+15557654321") as phone:
        await phone.silence(0.5)
        while not (phone.log.of("media") and not phone._buffer):  # the greeting has played
            await phone.silence(0.1)
        await phone.silence(0.3)
        await phone.speak(says("what food do you have"))
        await phone.silence(0.8)
        while len(phone.log.of("media")) < 400:  # the long reply is arriving
            await phone.silence(0.1)
        await phone.silence(1.0)
        pcm = says(interruption)
        started = time.perf_counter()
        await phone.speak(pcm)
        await phone.silence(1.5)
        await phone.stop()
        await phone.closed.wait()
    clears = [t for t in phone.log.clears if t > started]
    if not clears:
        return None
    return {"onset_to_clear_ms": round((clears[0] - started - onset_s(pcm)) * 1000, 1)}


def barge_ins(trace_dir: Path) -> list[float]:
    speech = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["type"] == "barge_in":
                speech.append(event["speech_ms"])
    return speech


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(port=0, trace_dir=str(Path(tmp) / "traces"), data_dir=tmp)
        results = []
        with running_server(settings) as base:
            for n in range(args.trials):
                said = INTERRUPTIONS[n % len(INTERRUPTIONS)]
                result = anyio.run(trial, base, said)
                print(f"{said!r}: {result or 'no barge-in'}", flush=True)
                if result:
                    results.append(result["onset_to_clear_ms"])
        speech = barge_ins(Path(tmp) / "traces")
    if results:
        print(
            f"caller onset -> clear: median {statistics.median(results):.0f} ms, "
            f"min {min(results):.0f}, max {max(results):.0f} over {len(results)} of {args.trials} trials; "
            f"voiced speech heard at the decision: median {statistics.median(speech):.0f} ms"
        )


if __name__ == "__main__":
    main()
