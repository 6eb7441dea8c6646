"""The command line as a new user runs it: `callwright run` in its own process, `callwright call` from another."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_then_call_with_spoken_text(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CALLWRIGHT_TRACE_DIR": str(tmp_path / "traces")}
    server = subprocess.Popen(
        [sys.executable, "-m", "callwright.cli", "run", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["ok"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/").text
        assert "Callwright" in page
        out = tmp_path / "reply.wav"
        result = subprocess.run(
            [
                sys.executable, "-m", "callwright.cli", "call", "--url", f"ws://127.0.0.1:{port}/ws",
                "--say", "what are your opening hours", "--out", str(out), "--json",
            ],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert "opening hours" in report["agent_heard"].lower()
        assert "eight in the morning" in report["agent_said"]
        assert report["greeting"].startswith("Hello")
        latency = report["latency_ms"]
        assert 0 < latency["endpoint"] <= latency["stt_final"] <= latency["first_audio_sent"]
        assert latency["heard_by_caller"] > 0
        with wave.open(str(out)) as w:
            assert w.getframerate() == 16000 and w.getnframes() > 16000  # over a second of reply
        # a usage error: exit 2, one precise line
        bad = subprocess.run([sys.executable, "-m", "callwright.cli", "call", "--wav", str(tmp_path / "nope.wav")],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert bad.returncode == 2 and "no such file" in bad.stderr
        # nobody listening: exit 1 with what to do
        down = subprocess.run([sys.executable, "-m", "callwright.cli", "call", "--url", f"ws://127.0.0.1:{free_port()}/ws",
                               "--say", "hello"], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert down.returncode == 1 and "callwright run" in down.stderr
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        finally:
            if server.stdout:
                server.stdout.close()
    traces = list((tmp_path / "traces").glob("*.jsonl"))
    assert len(traces) == 1
    assert json.loads(traces[0].read_text().splitlines()[-1])["type"] == "call.ended"
