"""The command line as a new user runs it: `callwright run` in its own process, `callwright call` from another."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from callwright.cli import main
from callwright.testing.server import ServerProcess, free_port, server_process

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
ORDER_DESK = ROOT / "examples" / "agents" / "order-desk"
REDIS = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def serving(folder: Path, *flags: str) -> Iterator[tuple[str, ServerProcess]]:
    """`callwright run` in its own process group, traces and state in ``folder``; yields (WebSocket URL, server)."""
    env = {"CALLWRIGHT_TRACE_DIR": str(folder / "traces"), "CALLWRIGHT_DATA_DIR": str(folder / "data")}
    with server_process("--log-level", "warning", *flags, log=folder / "server.log", env=env) as server:
        yield server.ws, server


def call(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """`callwright call --url URL FLAGS...` to the end."""
    command = [sys.executable, "-m", "callwright.cli", "call", "--url", url, *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def front_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built-in default agent, whose goodbye rule hangs up."""
    with serving(tmp_path_factory.mktemp("front-desk")) as (url, _):
        yield url


@pytest.fixture(scope="module")
def order_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example agent folder, which transfers a caller who asks for a person."""
    with serving(tmp_path_factory.mktemp("order-desk"), "--agent", str(ORDER_DESK)) as (url, _):
        yield url


def test_run_then_call_with_two_spoken_turns(tmp_path: Path) -> None:
    out = tmp_path / "call.wav"
    with serving(tmp_path) as (url, _):
        page = httpx.get(url.replace("ws://", "http://").removesuffix("/ws") + "/").text
        assert "Callwright" in page
        result = call(url, "--say", "what are your opening hours", "--say", "where is my order", "--out", str(out), "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert set(report) == {"greeting", "exchanges", "ended", "not_played", "saved"}
        assert report["greeting"].startswith("Hello")
        hours, order = report["exchanges"]  # both turns answered, in the order they were said
        assert hours["caller_said"] == "what are your opening hours"
        assert "opening hours" in hours["agent_heard"].lower()
        assert 0 < hours["confidence"] <= 1
        assert "eight in the morning" in hours["agent_said"]
        assert order["caller_said"] == "where is my order"
        assert "order" in order["agent_heard"].lower()
        assert order["agent_said"] == "Sorry, I can't look up orders on this line, so I can't tell you where that order is."
        assert order["turn"] == hours["turn"] + 1 == 2
        for exchange in (hours, order):
            latency = exchange["latency_ms"]
            assert 0 < latency["endpoint"] <= latency["stt_final"] <= latency["first_audio_sent"]
            assert latency["heard_by_caller"] > 0
        assert report["ended"] == {"reason": "hangup", "transfer_to": None, "transfer_reason": None}
        assert report["not_played"] == []
        assert report["saved"] == str(out)
        with wave.open(str(out)) as w:  # the greeting and both replies: well over eight seconds
            assert w.getframerate() == 16000 and w.getnframes() > 8 * 16000
        # waiting longer than --timeout: exit 1, one line
        slow = call(url, "--say", "hello", "--timeout", "1")
        assert slow.returncode == 1 and slow.stderr == "callwright: the agent did not greet within 1 s (--timeout sets how long to wait)\n"
    # usage errors: exit 2, one precise line
    bad = call(url, "--wav", str(tmp_path / "nope.wav"))
    assert bad.returncode == 2 and "no such file" in bad.stderr
    mixed = call(url, "--wav", str(out), "--say", "hello")
    assert mixed.returncode == 2 and "cannot be mixed" in mixed.stderr
    # nobody listening: exit 1 with what to do
    down = call(f"ws://127.0.0.1:{free_port()}/ws", "--say", "hello")
    assert down.returncode == 1 and "callwright run" in down.stderr
    traces = sorted((tmp_path / "traces").glob("*.jsonl"))
    assert len(traces) == 2  # the call, and the one that timed out
    ends = [json.loads(t.read_text().splitlines()[-1]) for t in traces]
    assert [e["type"] for e in ends] == ["call.ended", "call.ended"]
    assert {e["reason"] for e in ends} == {"hangup", "client_gone"}


def test_call_ends_cleanly_when_the_agent_hangs_up_mid_list(front_desk: str) -> None:
    result = call(front_desk, "--say", "what are your opening hours", "--say", "that's all, goodbye", "--say", "where is my order", "--pause", "0.3")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    hours, goodbye, ending = result.stdout.split("\n\n")  # one block per exchange (the first after the greeting), then the end
    assert hours.startswith("agent (greeting): Hello")
    assert "caller said:      what are your opening hours" in hours and "eight in the morning" in hours
    assert "caller said:      that's all, goodbye" in goodbye
    assert "agent said:       Thanks for calling. Goodbye!" in goodbye  # the agent's last words
    assert ending == "the agent hung up\nnot said (the call had ended): 'where is my order'\n"


def test_call_reports_a_transfer_and_stops(order_desk: str) -> None:
    # moonshine hears this phrase the same at every segment offset tried (0 to 200 ms); "can I speak
    # to a person" came back once as "can I speak to others? and?" under load
    result = call(order_desk, "--say", "what time do you open", "--say", "I want to talk to a real person", "--say", "goodbye", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    opening, person = report["exchanges"]
    assert "seven in the morning" in opening["agent_said"]
    assert "person" in person["agent_heard"].lower()
    assert person["agent_said"] == "Of course. I'm connecting you to a colleague now."
    assert report["ended"]["reason"] == "transfer"
    assert report["ended"]["transfer_to"] == "+15551230000"
    assert report["ended"]["transfer_reason"]
    assert report["not_played"] == ["goodbye"]


def test_call_says_where_the_transfer_goes(order_desk: str) -> None:
    result = call(order_desk, "--say", "I want a human", "--pause", "0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "agent said:       Of course. I'm connecting you to a colleague now." in result.stdout
    assert "\nthe agent transferred the call to +15551230000 (reason: " in result.stdout
    assert "the caller hung up" not in result.stdout


def test_a_server_that_drops_the_call_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with serving(tmp_path) as (url, server):
        command = [sys.executable, "-m", "callwright.cli", "call", "--url", url, "--say", "what are your opening hours"]
        caller = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert caller.stdout is not None
            assert caller.stdout.readline().startswith("agent (greeting): Hello")
            server.stop(signal.SIGKILL)  # mid-call, with no call.ended and no close frame
            out, err = caller.communicate(timeout=60)
        finally:
            if caller.poll() is None:
                caller.kill()
                caller.communicate()
    assert caller.returncode == 1
    assert err == f"callwright: {url}: the server closed the connection unexpectedly, close code 1006 (no close frame: did the server stop?)\n"
    assert out == ""


def test_a_server_process_that_cannot_start_says_why(tmp_path: Path) -> None:
    """The public helper does not wait out its timeout for a server that has exited: it raises at once
    with what the server printed."""
    server = ServerProcess.start("--agent", str(tmp_path / "nowhere"), log=tmp_path / "server.log")
    with pytest.raises(RuntimeError, match=r"exited \(2\):\ncallwright: .*nowhere: no such agent folder"):
        server.wait_until_up()
    assert server.stop() == 2


def test_every_flag_of_call_is_documented() -> None:
    section = (ROOT / "docs" / "cli.md").read_text().split("## callwright call", 1)[1].split("\n## ", 1)[0]
    flags = [opt for p in main.commands["call"].params if isinstance(p, click.Option) for opt in p.opts]
    assert "--pause" in flags and "--say" in flags
    for flag in flags:
        if flag != "--help":
            assert f"`{flag}" in section, flag


class Lines:
    """The output of a process, line by line, read in a thread so a test can wait for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.seen = proc, list[str]()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r}; the output so far:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


def test_chat_shows_the_web_form_value_and_the_sms_of_a_background_job(tmp_path: Path, live_server: Any) -> None:
    """`callwright chat` with the order desk: the link it texts is served by a server sharing its Redis
    and data dir; the value typed there shows in the chat as the web form's, and the purchase's SMS,
    sent by a background job while the caller is still chatting, shows too."""
    from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
    from callwright.settings import Settings
    from callwright.voice.call import Engines

    data, sam, address = tmp_path / "data", "+14155550123", "12 Oak Street, Springfield"
    shared = {"data_dir": str(data), "redis_url": REDIS, "queue_url": f"sqlite:///{data}/jobs.db"}
    forms_only = Engines(FakeStt([]), FakeTts(), EnergyVad())  # this server only serves the form link
    with live_server(Settings.load(port=0, trace_dir="", **shared), forms_only) as base:
        env = {
            **os.environ, **{f"CALLWRIGHT_{k.upper()}": v for k, v in shared.items()},
            "CALLWRIGHT_PUBLIC_URL": base, "ORDER_DESK_JOB_SECONDS": "1",
        }  # fmt: skip
        chat = subprocess.Popen(
            [sys.executable, "-m", "callwright.cli", "chat", "--agent", str(ORDER_DESK), "--caller", sam],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )  # fmt: skip
        out = Lines(chat)
        try:
            out.wait_for(r"agent> Hi Sam")
            out.say("I'd like to order two oat milk")
            out.wait_for(r"agent> What's the delivery address\?")
            out.say("I don't know")
            out.wait_for(r"agent> What's the delivery address\?")
            out.say("I'm not sure")
            link = out.wait_for(rf"SMS to \{sam}: Callwright Market: please enter your delivery address here: (http\S+/f/\S+)")
            posted = httpx.post(link.group(1), data={"value": address}, timeout=10)
            assert posted.status_code == 200 and "Thanks, you can go back to your call." in posted.text
            out.wait_for(rf"you entered on the web form \(not typed here\): {address}")
            out.wait_for(r"agent> .*Shall I place the order\?")
            out.say("yes")
            out.wait_for(r"agent> .*I'll text you when it's done")
            sms = "Callwright Market: your order number 1, 2 oat milk, is confirmed and will be delivered to " + address
            out.wait_for(rf"SMS to \{sam}: {re.escape(sms)} within the hour\.$")  # typed, so exactly what was said
            assert chat.stdin is not None
            chat.stdin.close()  # end of input: the chat hangs up
            assert chat.wait(timeout=30) == 0, "\n".join(out.seen)
        finally:
            if chat.poll() is None:
                chat.kill()
                chat.wait()
            out.reader.join(10)  # it has read to the end: the pipe can be closed under nobody
            for pipe in (chat.stdin, chat.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
