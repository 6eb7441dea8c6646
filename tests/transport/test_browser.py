"""The browser page, end to end: headless Chromium talks to a real server with the real engines.

Chromium's fake microphone plays a WAV of espeak-ng saying a caller sentence. It goes through the
page's capture worklet and the WebSocket to Silero VAD, moonshine and the front-desk agent, and the
reply comes back through piper, the WebSocket and the page's playback worklet. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Locator, Page, WebSocket, expect, sync_playwright

from callwright.audio.wav import read_wav, write_wav
from callwright.observe.trace import read_trace
from callwright.settings import Settings

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = "/tmp/callwright-page.png"
CALLER_SAYS = "what are your opening hours"
# The fake microphone starts with the call, and the caller speaks after this much silence: after the
# greeting (about 4 s of audio, plus synthesis), but well inside the long answer to a typed question.
LEAD_SILENCE_S = 8.0
TAIL_SILENCE_S = 3.0
RATE = 16000  # the page's call rate
TURN_TIMEOUT_MS = 60_000


def caller_wav(path: Path) -> Path:
    """The caller's microphone: silence, the sentence (espeak-ng), silence. 16-bit PCM mono."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is needed to make the caller's audio: apt-get install espeak-ng", pytrace=False)
    raw = path.with_suffix(".raw.wav")
    subprocess.run([espeak, "-w", str(raw), CALLER_SAYS], check=True, capture_output=True)
    speech, rate = read_wav(raw)
    silence = np.zeros(int(LEAD_SILENCE_S * rate), dtype=np.int16)
    write_wav(path, np.concatenate((silence, speech, np.zeros(int(TAIL_SILENCE_S * rate), dtype=np.int16))), rate)
    return path


def chromium_args(wav: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",  # play it once, then silence
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
    ]


class Wire:
    """The JSON text frames the page sent and received, as Chromium saw them on the socket."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        page.on("websocket", self._attach)

    def _attach(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self._record(self.sent, payload))
        ws.on("framereceived", lambda payload: self._record(self.received, payload))

    @staticmethod
    def _record(into: list[dict[str, Any]], payload: str | bytes) -> None:
        if isinstance(payload, str):
            into.append(json.loads(payload))

    def of(self, direction: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [e for e in direction if e["type"] == kind]

    def summary(self) -> str:
        """The call as the page saw it, one event a line (marks and latencies left out)."""
        quiet = {"audio.mark", "latency", "v", "call_id", "seq"}
        lines = [
            f"{e.get('t_ms', 0):9.1f} {e['type']} "
            + json.dumps({k: v for k, v in e.items() if k not in quiet | {"type", "t_ms"}})
            for e in self.received
            if e["type"] not in quiet
        ]
        return "events the page received:\n" + "\n".join(lines) + "\n"


@dataclass
class BrowserCall:
    page: Page
    wire: Wire
    traces: Path
    problems: list[str] = field(default_factory=list)  # page errors and console errors

    @property
    def stats(self) -> dict[str, Any]:
        """The page's counters (``window.callwright``)."""
        return dict(self.page.evaluate("window.callwright"))

    def wait_until_played(self, marks: int) -> None:
        """Wait for the page to finish playing, with at least ``marks`` marks echoed and none pending."""
        self.page.wait_for_function(
            """(marks) => {
                const c = window.callwright;
                return c.marksReceived >= marks && c.marksEchoed === c.marksReceived && c.state === "listening";
            }""",
            arg=marks,
            timeout=TURN_TIMEOUT_MS,
        )

    def hang_up(self) -> None:
        self.page.get_by_role("button", name="Hang up").click()
        expect(self.page.get_by_role("status")).to_have_text("Call ended: you hung up")
        expect(self.page.get_by_role("button", name="Start call")).to_be_enabled()

    def trace(self) -> list[Any]:
        """The server's own record of the call (its JSONL trace)."""
        (path,) = self.traces.glob("*.jsonl")
        return read_trace(path)


def silent_wav(path: Path, seconds: float = 1.0) -> Path:
    """A microphone that hears nothing: the caller only types (and fills in web forms)."""
    write_wav(path, np.zeros(int(seconds * RATE), dtype=np.int16), RATE)
    return path


@contextmanager
def browser_call(
    tmp_path: Path, live_server: Callable[..., AbstractContextManager[str]], *, silent: bool = False, **settings: Any
) -> Iterator[BrowserCall]:
    """A real server (default settings but ``settings``) and headless Chromium on its page."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is needed for the browser test: apt-get install chromium", pytrace=False)
    wav = silent_wav(tmp_path / "caller.wav") if silent else caller_wav(tmp_path / "caller.wav")
    traces = tmp_path / "traces"
    with live_server(Settings(trace_dir=str(traces), port=0, **settings)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(wav))
        call: BrowserCall | None = None
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            call = BrowserCall(page, Wire(page), traces)
            page.on("pageerror", lambda exc: call.problems.append(f"page error: {exc}"))
            page.on("console", lambda m: call.problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.goto(url)
            expect(page).to_have_title("Callwright")
            expect(page.get_by_role("status")).to_have_text("Ready")
            yield call
        finally:
            browser.close()
            if call is not None:
                sys.stderr.write(call.wire.summary())  # pytest shows it when the test fails


def spoken_turn(page: Page) -> Locator:
    """The turn whose caller line is the spoken (final, not typed) question."""
    caller = page.locator(".caller:not([hidden]):not(.partial)").filter(has_text=re.compile(r"hours", re.I))
    return page.locator(".turn").filter(has=caller)


Server = Callable[..., AbstractContextManager[str]]


def test_a_spoken_turn_from_the_browser(tmp_path: Path, live_server: Server) -> None:
    with browser_call(tmp_path, live_server) as call:
        page, wire = call.page, call.wire
        status = page.get_by_role("status")
        page.get_by_role("button", name="Start call").click()

        # The caller's words, heard and shown as a final transcript, then the agent's answer, played out.
        turn = spoken_turn(page)
        expect(turn.locator(".caller")).to_contain_text(
            re.compile(r"\bopen(ing)?\b.*\bhours\b", re.I), timeout=TURN_TIMEOUT_MS
        )
        expect(turn.locator(".agent")).to_contain_text(re.compile(r"\bopen\b", re.I), timeout=TURN_TIMEOUT_MS)
        call.wait_until_played(marks=3)  # two greeting sentences, one in the answer
        expect(turn.locator(".latency")).to_contain_text(re.compile(r"Voice-to-voice \d+ ms"))
        expect(status).to_have_text("Listening")
        page.screenshot(path=SCREENSHOT)
        stats = call.stats
        call.hang_up()

    assert not stats["errors"] and not call.problems, (stats["errors"], call.problems)
    assert stats["samplesSent"] > (LEAD_SILENCE_S + 2) * RATE, "the microphone audio did not reach the socket"
    assert stats["framesDropped"] == 0

    # Agent audio: what the server says it sent, the page received and played (within one 20 ms frame).
    agent_turns = wire.of(wire.received, "agent.turn")
    assert [(t["turn"], t["interrupted"]) for t in agent_turns] == [(0, False), (1, False)]
    sent_samples = sum(t["audio_ms"] for t in agent_turns) * RATE / 1000
    assert stats["samplesReceived"] == pytest.approx(sent_samples, abs=RATE // 50)
    assert stats["samplesPlayed"] == pytest.approx(stats["samplesReceived"], abs=RATE // 50)
    assert stats["samplesPlayed"] > 5 * RATE  # greeting and answer: several seconds of speech

    # Marks: each one the server set came back on the wire, unchanged and in order.
    marks = wire.of(wire.received, "audio.mark")
    assert len(marks) >= 3
    assert wire.of(wire.sent, "audio.mark") == marks
    assert wire.sent[0] == {"type": "call.start", "sample_rate": RATE}
    assert wire.of(wire.sent, "hangup") == [{"type": "hangup"}]
    assert "voice_to_voice" in {e["stage"] for e in wire.of(wire.received, "latency")}

    # The server's own record of the call agrees with the page.
    trace = call.trace()
    assert (trace[0].type, trace[-1].type, trace[-1].reason) == ("call.started", "call.ended", "hangup")
    finals = [e for e in trace if e.type == "transcript.final"]
    assert len(finals) == 1 and "hours" in finals[0].text.lower()


def test_the_caller_interrupts_and_the_page_drops_agent_audio(tmp_path: Path, live_server: Server) -> None:
    """A typed question gets a long answer; the caller's spoken question cuts it off (barge-in).

    ``barge_in_min_words=0`` interrupts on half a second of speech without transcribing it first.
    This test is about the page's side of a barge-in, so it must not depend on what moonshine makes
    of a clipped first word: an empty transcript counts as a backchannel, and the whole turn is lost.
    """
    with browser_call(tmp_path, live_server, barge_in_min_words=0) as call:
        page, wire = call.page, call.wire
        page.get_by_role("button", name="Start call").click()
        page.get_by_label("Type what you want to say").fill("tell me about your menu")
        page.get_by_role("button", name="Send").click()

        menu = page.locator(".turn").filter(has=page.locator(".caller", has_text="menu"))
        expect(menu.locator(".caller .who")).to_have_text("You (typed)", timeout=TURN_TIMEOUT_MS)
        expect(menu.locator(".agent .tag")).to_have_text("(interrupted)", timeout=TURN_TIMEOUT_MS)
        expect(menu.locator(".agent .unheard")).to_be_visible()
        turn = spoken_turn(page)
        expect(turn.locator(".agent")).to_contain_text(re.compile(r"\bopen\b", re.I), timeout=TURN_TIMEOUT_MS)
        call.wait_until_played(marks=3)
        shown = menu.locator(".agent .text").inner_text()
        stats = call.stats
        call.hang_up()

    assert not stats["errors"] and not call.problems, (stats["errors"], call.problems)
    (barge_in,) = wire.of(wire.received, "barge_in")
    cut = next(t for t in wire.of(wire.received, "agent.turn") if t["interrupted"])
    assert cut["text"] == barge_in["heard_text"] and shown.startswith(cut["text"])
    # audio.clear emptied the page's queue at once: what was buffered beyond the cut never played.
    assert stats["clears"] == 1
    assert RATE // 100 < stats["samplesReceived"] - stats["samplesPlayed"] < RATE // 2
    # Marks come back in order; one still waiting when the audio was dropped is never echoed.
    received = iter(wire.of(wire.received, "audio.mark"))
    assert all(mark in received for mark in wire.of(wire.sent, "audio.mark"))


ORDER_DESK = Path(__file__).parents[2] / "examples" / "agents" / "order-desk"
SAM = "+14155550123"  # a customer the order desk knows
ADDRESS = "12 Oak Street, Springfield"


def test_the_page_shows_the_web_form_value_and_the_sms_a_background_job_sends(tmp_path: Path, live_server: Server) -> None:
    """What the caller is told is what the page shows: the texted link (to a form that names the
    business), the value typed into it (labelled as coming from the web form, not typed in the
    call), and the SMS the background purchase sends while the caller is still on the line."""
    with browser_call(
        tmp_path, live_server, silent=True, agent=str(ORDER_DESK), data_dir=str(tmp_path / "data")
    ) as call:
        page, wire = call.page, call.wire
        page.get_by_label("Call from").fill(SAM)
        page.get_by_role("button", name="Start call").click()
        expect(page.locator(".turn .agent").first).to_contain_text("Sam", timeout=TURN_TIMEOUT_MS)

        def typed(text: str, reply: str | re.Pattern[str]) -> Locator:
            page.get_by_label("Type what you want to say").fill(text)
            page.get_by_role("button", name="Send").click()
            turn = page.locator(".turn").filter(has=page.locator(".caller", has_text=text)).last
            expect(turn.locator(".agent")).to_contain_text(reply, timeout=TURN_TIMEOUT_MS)
            return turn

        typed("I'd like to order two oat milk", "What's the delivery address?")
        typed("I don't know", "What's the delivery address?")
        linked = typed("I'm not sure", "texted you a link")
        sms = linked.locator(".note").filter(has_text="SMS to")
        expect(sms).to_contain_text(f"SMS to {SAM}: Callwright Market: please enter your delivery address here: http")
        (link_sms,) = wire.of(wire.received, "message.sent")
        url = re.search(r"http://\S+/f/\S+", link_sms["body"])
        assert url, link_sms

        # The caller opens the link on their phone: the form says who is asking.
        browser = page.context.browser
        assert browser is not None
        form = browser.new_page(viewport={"width": 390, "height": 700}, is_mobile=True, has_touch=True)
        form.goto(url.group(0))
        expect(form.locator(".business")).to_have_text("Callwright Market")
        expect(form).to_have_title("Callwright Market · delivery address")
        form.get_by_label("delivery address").fill(ADDRESS)
        form.screenshot(path="/tmp/callwright-form-business.png")
        form.get_by_role("button", name="Send").click()
        expect(form.get_by_role("heading")).to_have_text("Thank you")
        form.close()

        # The call shows the value as the web form's, then carries on to the confirmation.
        web = page.locator(".turn").filter(has=page.locator(".caller", has_text=ADDRESS))
        expect(web.locator(".caller .who")).to_have_text("You (web form)", timeout=TURN_TIMEOUT_MS)
        expect(web.locator(".agent")).to_contain_text("Shall I place the order?", timeout=TURN_TIMEOUT_MS)

        # Yes: the purchase becomes a background job; its SMS shows while the caller is still on.
        typed("yes", "I'll text you when it's done")
        confirmed = page.locator(".note").filter(has_text="is confirmed")
        expect(confirmed).to_contain_text(
            re.compile(rf"SMS to \{SAM}: Callwright Market: your order number 1, 2 oats? milk, is confirmed"), timeout=TURN_TIMEOUT_MS
        )
        page.screenshot(path="/tmp/callwright-page-job-sms.png")
        stats = call.stats
        call.hang_up()

    assert not stats["errors"] and not call.problems, (stats["errors"], call.problems)
    finals = wire.of(wire.received, "transcript.final")
    assert [f["source"] for f in finals if f["text"] == ADDRESS] == ["web"]
    (job,) = wire.of(wire.received, "job.queued")
    texts = wire.of(wire.received, "message.sent")
    assert [t["purpose"] for t in texts] == ["form_link", "job order-desk.place_order"]
    assert job["notify"] == texts[1]["to"] == SAM and ADDRESS in texts[1]["body"]
    # The server's trace holds the same SMS, so what the page showed is what the store sent.
    assert [e.body for e in call.trace() if e.type == "message.sent"] == [t["body"] for t in texts]
