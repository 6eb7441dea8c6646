"""Both wire protocols fuzzed over real sockets to a real server (a short run: a few hundred generated
messages; benchmarks/fuzz_wire.py sends 100,000): each bad message gets its documented error and
close code, nothing goes unhandled in the server, and a normal call is answered afterwards."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from websockets.asyncio.client import connect

from callwright import events as ev
from callwright.client import CallClient
from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
from callwright.settings import Settings
from callwright.voice.call import Engines
from wire_fuzz import Message, native_sessions, run_native, run_twilio, twilio_sessions

EXAMPLES = 60  # sessions per protocol; each has up to 32 messages
FUZZ = hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class Unhandled(logging.Handler):
    """Records the server logs at ERROR or with a traceback: an unhandled exception shows up here."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


async def test_generated_messages_get_their_documented_errors_and_a_call_still_works(live_server: Any) -> None:
    unhandled = Unhandled()
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "callwright")]
    for logger in loggers:
        logger.addHandler(unhandled)
    engines = Engines(FakeStt(lambda seconds: "what are your opening hours"), FakeTts(ms_per_char=1), EnergyVad())
    # One client floods the server on purpose: the rate limit is off here (tests/transport/test_ratelimit.py covers it).
    settings = Settings.load(port=0, trace_dir="", rate_limit=0, idle_timeout_s=30)
    problems: list[str] = []
    counts = {"native": 0, "twilio": 0, "refused": 0}
    try:
        with live_server(settings, engines) as base:

            @FUZZ
            @given(native_sessions())
            def native(messages: list[Message]) -> None:
                outcome = anyio.run(run_native, base, messages)
                counts["native"] += outcome.sent
                counts["refused"] += outcome.error is not None
                if outcome.problem:
                    problems.append("native: " + outcome.problem)

            @FUZZ
            @given(twilio_sessions())
            def twilio(messages: list[Message]) -> None:
                async def one() -> Any:
                    async with httpx.AsyncClient() as http:
                        return await run_twilio(base, http, messages, counts["twilio"])

                outcome = anyio.run(one)
                counts["twilio"] += outcome.sent
                counts["refused"] += outcome.error is not None
                if outcome.problem:
                    problems.append("twilio: " + outcome.problem)

            await anyio.to_thread.run_sync(native)
            await anyio.to_thread.run_sync(twilio)
            # The AttributeError of old: a start whose fields are not JSON objects.
            async with connect(base.replace("http://", "ws://") + "/twilio/stream") as sock:
                await sock.send(json.dumps({"event": "start", "start": {"mediaFormat": "mulaw", "customParameters": []}}))
                await sock.wait_closed()
            assert (sock.close_code, sock.close_reason) == (1008, "bad_event")
            # A normal call is answered afterwards, and nothing is left running.
            async with CallClient(base.replace("http://", "ws://") + "/ws") as call:
                await call.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
                await call.send_event(ev.CallerText(text="what are your opening hours"))
                reply = await call.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=20)
                assert "eight in the morning" in reply.text
                await call.hangup()
            async with httpx.AsyncClient() as http:
                with anyio.fail_after(10):
                    while (await http.get(base + "/healthz")).json()["calls"]:
                        await anyio.sleep(0.05)
    finally:
        for logger in loggers:
            logger.removeHandler(unhandled)
    assert not problems, problems[:5]
    assert not unhandled.records, [r.getMessage() for r in unhandled.records[:3]]
    assert counts["native"] + counts["twilio"] >= 300, counts
    logging.getLogger(__name__).info("fuzzed: %s", counts)
    assert counts["refused"] >= 10, counts  # the generators do reach the error paths
