"""Fuzz both wire protocols with at least 100,000 generated messages against a real server.

    .venv/bin/python benchmarks/fuzz_wire.py                 # 100,000 messages (about 5-10 min on 2 cores)
    .venv/bin/python benchmarks/fuzz_wire.py --messages 5000 # a quick look
    .venv/bin/python benchmarks/fuzz_wire.py --tracemalloc   # also the server's Python heap, and what grew

The server runs in its own process (uvicorn, fake engines, rate limit off, log at WARNING to a
file in the temp folder), so its memory is measured alone. The sessions come from tests/wire_fuzz.py, the same
generators as tests/transport/test_wire_fuzz.py, with hypothesis drawing new ones each round.

Checks (exit 1 if one fails):
* every session ends as docs/protocol.md says: the documented error and close code for a bad
  message, close 1000 after a hang-up otherwise;
* the server log holds no unhandled exception (nothing at ERROR, no traceback);
* the server's RSS once idle after the run is within ``--rss-slack-mib`` of its RSS after the
  warm-up (the first ``--warmup`` messages); with ``--tracemalloc``, instead, its Python heap
  (after a collection) has grown by at most ``--heap-slack-kib`` besides the marks of the Twilio
  calls it answered, which it keeps on purpose for ``max_duration_s`` + 15 minutes;
* a normal call is answered afterwards on each protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]


def serve(port: int) -> None:
    """The server process: fake engines, no rate limit (one client floods it on purpose)."""
    import logging

    import uvicorn

    from callwright.engines.fakes import EnergyVad, FakeStt, FakeTts
    from callwright.server import build_server
    from callwright.settings import Settings
    from callwright.transport.app import create_app
    from callwright.voice.call import Engines

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = os.environ.get("CALLWRIGHT_FUZZ_TRACEMALLOC")
    if report:  # SIGUSR1: the first takes the baseline, each later one writes the growth since then
        import signal
        import tracemalloc

        tracemalloc.start(8)
        snapshots: list[Any] = []

        def on_signal(signum: int, frame: Any) -> None:
            import gc

            gc.collect()
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            current = tracemalloc.get_traced_memory()[0]
            if not snapshots:
                snapshots.append(snapshot)
                Path(report).write_text(json.dumps({"baseline_bytes": current}))
                return
            stats = snapshot.compare_to(snapshots[0], "traceback")
            top = stats[:8]
            # Each call answered on /twilio/voice is marked on the call bus until max_duration_s + 15 min
            # (twilio_security.TwilioCalls): memory held on purpose, counted apart.
            marks = sum(st.size_diff for st in stats if any(f.filename.endswith("twilio_security.py") for f in st.traceback))
            Path(report).write_text(json.dumps({
                "baseline_bytes": json.loads(Path(report).read_text())["baseline_bytes"], "final_bytes": current,
                "call_marks_bytes": marks, "other_growth_bytes": sum(st.size_diff for st in stats) - marks,
                "top_growth": [f"{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks: "
                               + " <- ".join(f"{f.filename.split('site-packages/')[-1].split('/src/')[-1]}:{f.lineno}" for f in list(stat.traceback)[::-1][:4])
                               for stat in top]}))

        signal.signal(signal.SIGUSR1, on_signal)
    engines = Engines(FakeStt(lambda seconds: "what are your opening hours"), FakeTts(ms_per_char=1), EnergyVad())
    settings = Settings.load(port=port, trace_dir="", rate_limit=0, idle_timeout_s=30, max_calls=50)
    uvicorn.run(create_app(build_server(settings, engines)), host="127.0.0.1", port=port, log_level="warning",
                ws_max_size=1 << 20, lifespan="on")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages to send in all (both protocols)")
    parser.add_argument("--warmup", type=int, default=5_000, help="messages before the memory baseline is taken")
    parser.add_argument("--rss-slack-mib", type=float, default=8.0, help="allowed RSS growth from baseline to the end")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace the server's Python allocations: the heap at baseline and at the end, and what grew")
    parser.add_argument("--heap-slack-kib", type=float, default=256.0,
                        help="with --tracemalloc: allowed heap growth from baseline, besides the Twilio call marks")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    import anyio
    import httpx
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings

    from callwright import events as ev
    from callwright.client import CallClient
    from callwright.transport.twilio_peer import TwilioPeer
    from wire_fuzz import Message, native_sessions, run_native, run_twilio, twilio_sessions

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / f"callwright-fuzz-server-{port}.log"
    trace_path = Path(tempfile.gettempdir()) / f"callwright-fuzz-tracemalloc-{port}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if args.tracemalloc:
        env["CALLWRIGHT_FUZZ_TRACEMALLOC"] = str(trace_path)
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start; see {log_path}") from None
                time.sleep(0.2)

        counts = {"native": 0, "twilio": 0, "sessions": 0, "refused": 0}
        errors: dict[str, int] = {}
        problems: list[str] = []
        rss: list[tuple[int, float]] = [(0, rss_mib(server.pid))]
        baseline: float | None = None
        started = time.perf_counter()
        round_size = 200

        def record(protocol: str, outcome: Any) -> None:
            counts[protocol] += outcome.sent
            counts["sessions"] += 1
            if outcome.error:
                counts["refused"] += 1
                errors[f"{protocol}:{outcome.error}"] = errors.get(f"{protocol}:{outcome.error}", 0) + 1
            if outcome.problem:
                problems.append(f"{protocol}: {outcome.problem}")

        fuzz = hypothesis_settings(max_examples=round_size, deadline=None, database=None, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck))

        @fuzz
        @given(native_sessions())
        def native(messages: list[Message]) -> None:
            record("native", anyio.run(run_native, base, messages))

        @fuzz
        @given(twilio_sessions())
        def twilio(messages: list[Message]) -> None:
            async def one() -> Any:
                async with httpx.AsyncClient() as http:
                    return await run_twilio(base, http, messages, counts["sessions"])

            record("twilio", anyio.run(one))

        while (sent := counts["native"] + counts["twilio"]) < args.messages:
            native()
            twilio()
            sent = counts["native"] + counts["twilio"]
            if baseline is None and sent >= args.warmup:
                time.sleep(1.0)
                baseline = rss_mib(server.pid)
                if args.tracemalloc:
                    server.send_signal(signal.SIGUSR1)
                rss.append((sent, baseline))
            elif rss[-1][0] + 10_000 <= sent:
                rss.append((sent, rss_mib(server.pid)))
            print(f"{sent:>7} messages, {counts['sessions']} sessions, {counts['refused']} refused, "
                  f"RSS {rss[-1][1]:.1f} MiB, {len(problems)} problems", flush=True)
        elapsed = time.perf_counter() - started

        async def normal_calls() -> tuple[str, int]:
            async with CallClient(base.replace("http://", "ws://") + "/ws") as call:
                await call.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0)
                await call.send_event(ev.CallerText(text="what are your opening hours"))
                reply = await call.wait_for(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 1, timeout=20)
                await call.hangup()
            peer = await TwilioPeer.answer(base + "/twilio/voice")
            async with peer:
                with anyio.fail_after(10):
                    while not peer.log.of("media"):
                        await peer.silence(0.1)
                await peer.stop()
            async with httpx.AsyncClient() as http:
                with anyio.fail_after(15):
                    while (await http.get(base + "/healthz")).json()["calls"]:  # noqa: ASYNC110 (another process)
                        await anyio.sleep(0.1)
            return reply.text, len(peer.log.of("media"))

        reply, twilio_media = anyio.run(normal_calls)
        time.sleep(2.0)
        final = rss_mib(server.pid)
        if args.tracemalloc:
            server.send_signal(signal.SIGUSR1)
            time.sleep(3.0)
    finally:
        server.terminate()
        server.wait(10)
    log_text = log_path.read_text()
    unhandled = [line for line in log_text.splitlines() if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line]
    assert baseline is not None
    result = {
        "messages": counts["native"] + counts["twilio"], "native": counts["native"], "twilio": counts["twilio"],
        "sessions": counts["sessions"], "refused": counts["refused"], "errors": dict(sorted(errors.items())),
        "seconds": round(elapsed, 1), "messages_per_s": round((counts["native"] + counts["twilio"]) / elapsed),
        "rss_mib": {"start": round(rss[0][1], 1), "baseline_after_warmup": round(baseline, 1),
                    "samples": [(n, round(m, 1)) for n, m in rss], "final_idle": round(final, 1)},
        "problems": problems[:10], "problem_count": len(problems), "unhandled_log_lines": unhandled[:10],
        "normal_call_reply": reply, "twilio_greeting_frames": twilio_media,
    }
    if args.tracemalloc:
        result["tracemalloc"] = json.loads(trace_path.read_text())
    print(json.dumps(result, indent=1))
    failed = []
    if problems:
        failed.append(f"{len(problems)} sessions broke the protocol's rules")
    if unhandled:
        failed.append(f"{len(unhandled)} unhandled-exception lines in {log_path}")
    if args.tracemalloc:  # RSS then includes tracemalloc's own tables: the heap is the measure
        other = result["tracemalloc"]["other_growth_bytes"] / 1024
        if other > args.heap_slack_kib:
            failed.append(f"the heap grew {other:.0f} KiB from baseline besides the call marks (allowed {args.heap_slack_kib:.0f})")
    elif final - baseline > args.rss_slack_mib:
        failed.append(f"RSS grew {final - baseline:.1f} MiB from baseline (allowed {args.rss_slack_mib})")
    if "eight in the morning" not in reply or not twilio_media:
        failed.append("a normal call was not answered afterwards")
    print("FAILED: " + "; ".join(failed) if failed else "PASSED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
