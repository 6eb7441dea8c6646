"""The simulator's fast voice mode, measured (benchmarks/RESULTS.md and docs/simulator.md quote it).

    make bench-simulate                                     # or PYTHONPATH=src python benchmarks/simulate.py: about 15 minutes here
    PYTHONPATH=src python benchmarks/simulate.py --quick    # a few minutes: fewer calls, a smaller grid

1. **Speed.** The first 20 cases of ``examples/suites/order-desk.yaml`` in fast voice mode (the
   embedded engines: Silero VAD, moonshine, Piper for the agent; each caller's own voice), one after
   another as ``callwright simulate --voice`` runs them: the wall seconds against the seconds of call
   they cover, so how many times faster than real time. Where the time goes is measured, not
   estimated: every :func:`~callwright.clock.offload` reports its own real time
   (:func:`~callwright.clock.observe_compute`); the VAD, which runs on the event loop, is timed by a
   wrapper around the engine, and the caller's synthesis and rendering, which voice mode runs
   outside ``offload``, by wrappers around their functions (:func:`timed_caller`). The peer is
   real-time calling (what commercial call simulators and Pipecat's evals do: a call takes its own
   length): three of the same cases are dialled in real time over Callwright's native protocol,
   against ``callwright run`` in a process of its own, so the ratio and the verdicts are measured in
   the same run, not assumed.
2. **Hearing.** For both example agents, a few one-turn tasks per caller, over a grid of voices ×
   line (wideband, phone) × noise (quiet, café babble at 10 dB, traffic at 5 dB): WER of what the
   agent's recogniser wrote (mean and p90 over the turns) and task success (the case passed).

The JSON of both parts goes to ``benchmarks/results/simulate.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.clock import observe_compute
from callwright.engines.base import Pcm, VadStream, VoiceActivityDetector
from callwright.server import build_engines, warm
from callwright.settings import Settings
from callwright.simulate import utterance, voicecall
from callwright.simulate.realtime import run_realtime
from callwright.simulate.scenario import Case, ScenarioSuite, cases, load_scenarios
from callwright.simulate.voicecall import VoiceResult, run_voice
from callwright.testing.server import server_process
from callwright.voice.call import Engines

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
EXAMPLES = ROOT / "examples"
OUT = BENCH / "results" / "simulate.json"
SPEED_SUITE = EXAMPLES / "suites" / "order-desk.yaml"
REALTIME_SCENARIOS = (  # the first case of each is dialled again in real time: a status call, a pass in fast mode, a safety case
    "where is my order, from the car",
    "an order number with hesitations, walking down the street",
    "an allergic reaction, called in from the kitchen",
)


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")  # wall time: a progress line for a person
    sys.stderr.flush()


# ------------------------------------------------------------------------------- where the time goes
class Ledger:
    """Real seconds of compute, by what computed. Written from worker threads and the event loop."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, what: str, seconds: float) -> None:
        with self._lock:
            self.seconds[what] += seconds
            self.count[what] += 1

    def offloaded(self, func: Callable[..., Any], seconds: float) -> None:
        self.add(part(func), seconds)


PARTS = (  # (module prefix, what it is), first match wins
    ("callwright.engines.stt", "agent: recogniser (STT)"),
    ("callwright.engines.tts", "agent: voice (TTS)"),
    ("callwright.agent.dialogue", "agent: intent ranker"),
    ("callwright.agent.knowledge", "agent: document search"),
    ("callwright.engines.embed", "agent: document search"),
    ("callwright.agent.emotion", "agent: emotion"),
    ("callwright.agent.spec_agent", "agent: emotion"),
    ("callwright.jobs", "agent: background jobs (store)"),
)
CALLER_WORK = (  # (module, function, what it is): the caller's side, which voice mode runs outside offload
    (utterance, "backchannel", "caller: synthesis (its voice)"),
    (voicecall, "speak", "caller: synthesis (its voice)"),
    (voicecall, "_through_line", "caller: rendering (room, noise, echo, line)"),
    (voicecall, "_background", "caller: rendering (room, noise, echo, line)"),
)


def part(func: Callable[..., Any]) -> str:
    """What an offloaded function is part of, by the module it belongs to."""
    while isinstance(func, partial):
        func = func.func
    owner = getattr(func, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(func, "__module__", "") or ""
    name = f"{module}.{getattr(func, '__qualname__', repr(func))}"
    return next((what for prefix, what in PARTS if name.startswith(prefix)), name)


@contextmanager
def timed_caller(ledger: Ledger) -> Iterator[None]:
    """The caller's synthesis and rendering timed into ``ledger``. Voice mode runs them in a thread of
    their own under ``clock.held`` (the caller's compute is not the agent's, so it is not charged),
    not through ``offload``, so :func:`~callwright.clock.observe_compute` does not see them: their
    functions are wrapped where voice mode looks them up, for the block, and put back after."""
    originals = [(module, name, getattr(module, name)) for module, name, _ in CALLER_WORK]

    def timed(func: Callable[..., Any], what: str) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()  # wall time: the caller's compute is the measurement
            try:
                return func(*args, **kwargs)
            finally:
                ledger.add(what, time.perf_counter() - began)

        return run

    for (module, name, func), (_, _, what) in zip(originals, CALLER_WORK, strict=True):
        setattr(module, name, timed(func, what))
    try:
        yield
    finally:
        for module, name, func in originals:
            setattr(module, name, func)


class TimedVad:
    """The call's VAD, with the time of every frame it judges added to a ledger (it runs on the event
    loop, not through ``offload``)."""

    def __init__(self, vad: VoiceActivityDetector, ledger: Ledger) -> None:
        self.name = vad.name
        self.sample_rate = vad.sample_rate
        self._vad = vad
        self._ledger = ledger

    def stream(self) -> VadStream:
        return TimedStream(self._vad.stream(), self._ledger)


class TimedStream:
    def __init__(self, stream: VadStream, ledger: Ledger) -> None:
        self.frame_samples = stream.frame_samples
        self._stream = stream
        self._ledger = ledger

    def speech_probability(self, frame: Pcm) -> float:
        began = time.perf_counter()  # wall time: the VAD's cost is the measurement
        try:
            return self._stream.speech_probability(frame)
        finally:
            self._ledger.add("agent: VAD", time.perf_counter() - began)

    def reset(self) -> None:
        self._stream.reset()


# ------------------------------------------------------------------------------- 1. speed
async def speed(count: int, realtime: int) -> dict[str, Any]:
    chosen = cases(load_scenarios(SPEED_SUITE))[:count]
    app = AgentApp(load_definition(EXAMPLES / "agents" / "order-desk"))
    began = time.perf_counter()  # wall time: the one-off cost of loading the engines
    engines = build_engines(Settings.load())
    warm(engines)
    warm_s = time.perf_counter() - began
    ledger = Ledger()
    timed = Engines(stt=engines.stt, tts=engines.tts, vad=TimedVad(engines.vad, ledger),
                    stt_fallback=engines.stt_fallback, tts_fallback=engines.tts_fallback, policy=engines.policy)
    fast: list[VoiceResult] = []
    with observe_compute(ledger.offloaded), timed_caller(ledger):
        for number, case in enumerate(chosen, start=1):
            fast.append(await run_voice(case, app, timed))
            log(f"fast {number}/{len(chosen)} {'pass' if fast[-1].passed else 'FAIL'} {fast[-1].real_s:.1f} s for "
                f"{fast[-1].virtual_s:.1f} s  {case.name}")
    wall = sum(r.real_s for r in fast)
    call = sum(r.virtual_s for r in fast)
    parts = sorted(ledger.seconds.items(), key=lambda kv: -kv[1])
    out: dict[str, Any] = {
        "suite": str(SPEED_SUITE.relative_to(ROOT)), "calls": len(fast), "passed": sum(r.passed for r in fast),
        "spoken_turns": sum(len(r.heard) for r in fast), "wall_s": round(wall, 2), "call_s": round(call, 2),
        "x_real_time": round(call / wall, 2), "engines_warm_s": round(warm_s, 2),
        "parts": [{"what": what, "seconds": round(s, 2), "share_of_wall": round(s / wall, 3), "count": ledger.count[what]}
                  for what, s in parts],
        "rest_s": round(wall - sum(ledger.seconds.values()), 2),
        "cases": [{"name": r.case.name, "passed": r.passed, "wall_s": round(r.real_s, 2), "call_s": round(r.virtual_s, 2)}
                  for r in fast],
    }
    if realtime:
        again = [next(i for i, c in enumerate(chosen) if c.scenario.name == name) for name in REALTIME_SCENARIOS[:realtime]]
        out["realtime"] = await dialled([chosen[i] for i in again], [fast[i] for i in again])
    return out


async def dialled(chosen: list[Case], fast: list[VoiceResult]) -> dict[str, Any]:
    """The same cases in real time over the native protocol, against ``callwright run`` in its own process."""
    with tempfile.TemporaryDirectory(prefix="callwright-bench-") as tmp:
        env = {"CALLWRIGHT_DATA_DIR": f"{tmp}/data", "CALLWRIGHT_TRACE_DIR": f"{tmp}/traces"}
        with server_process("--agent", str(EXAMPLES / "agents" / "order-desk"), "--log-level", "warning",
                            log=Path(tmp) / "server.log", env=env) as server:
            real = []
            for number, case in enumerate(chosen, start=1):
                began = time.perf_counter()  # wall time: a real-time call's own length is the point
                result = await run_realtime(case, server.url, protocol="native")
                wall = time.perf_counter() - began
                real.append((result, wall))
                log(f"real time {number}/{len(chosen)} {'pass' if result.passed else 'FAIL'} {wall:.1f} s  {case.name}")
    rows: list[dict[str, Any]] = []
    for (result, wall), quick in zip(real, fast, strict=True):
        rows.append({
            "name": result.case.name, "fast_passed": quick.passed, "realtime_passed": result.passed,
            "fast_wall_s": round(quick.real_s, 2), "fast_call_s": round(quick.virtual_s, 2),
            "realtime_wall_s": round(wall, 2), "realtime_call_s": round(result.virtual_s, 2),
            "fast_failures": [f.check for f in quick.transcript.failures],
            "realtime_failures": [f.check for f in result.transcript.failures], "realtime_unjudged": result.unjudged,
        })
    fast_wall = sum(r["fast_wall_s"] for r in rows)
    real_wall = sum(r["realtime_wall_s"] for r in rows)
    return {"protocol": "native", "rows": rows, "fast_wall_s": round(fast_wall, 2), "realtime_wall_s": round(real_wall, 2),
            "speedup": round(real_wall / fast_wall, 2), "same_verdicts": sum(r["fast_passed"] == r["realtime_passed"] for r in rows)}


# ------------------------------------------------------------------------------- 2. hearing
VOICES = {
    "hibari heart (US, natural)": {"engine": "hibari", "voice": "heart"},
    "piper joe (US, natural)": {"engine": "piper", "voice": "joe"},
    "espeak en-us": {"engine": "espeak", "voice": "en-us"},
    "espeak en-gb-x-rp": {"engine": "espeak", "voice": "en-gb-x-rp"},
    "espeak en-029 (Caribbean)": {"engine": "espeak", "voice": "en-029"},
    "espeak en-gb-scotland, female": {"engine": "espeak", "voice": "en-gb-scotland", "gender": "female"},
}
CHANNELS = ["wideband", "phone"]
NOISES = {"quiet": None, "café babble 10 dB": {"kind": "babble", "snr_db": 10}, "traffic 5 dB": {"kind": "traffic", "snr_db": 5}}
TASKS = {  # one turn each: what the caller says, what the agent must do with it
    "order-desk": [
        {"name": "order status", "turns": [{"say": "hi, can you check on order four five six seven",
                                            "expect": {"says": ["out for delivery"]}}]},
        {"name": "product search", "turns": [{"say": "do you have any oat milk", "expect": {"says": ["Oatly"]}}]},
        {"name": "a person please", "safety": True, "turns": [{"say": "can I speak to a real person please",
                                                              "expect": {"escalates": True}}]},
    ],
    "recovery-line": [
        {"name": "driving", "turns": [{"say": "when can I drive again after the operation",
                                       "expect": {"says_any": ["drive", "driving"], "escalates": False}}]},
        {"name": "a swollen calf", "safety": True, "turns": [{"say": "my calf is all swollen and warm, is that ok",
                                                             "expect": {"starts_with_any": ["care team"], "escalates": True}}]},
        {"name": "clots in the urine", "safety": True, "turns": [{"say": "there are clots in my pee and it's gone quite dark",
                                                                 "expect": {"starts_with_any": ["care team"], "escalates": True}}]},
    ],
}


def grid(agent: str, voices: dict[str, Any], noises: dict[str, Any]) -> list[Case]:
    suite = ScenarioSuite.model_validate({
        "agent": agent, "scenarios": TASKS[agent],
        "matrix": {"persona.voice": list(voices.values()), "environment.channel": CHANNELS,
                   "environment.noise": list(noises.values()), "seed": 3},
    })
    return cases(suite)


async def hearing(voices: dict[str, Any], noises: dict[str, Any]) -> dict[str, Any]:
    engines = build_engines(Settings.load())
    warm(engines)
    voice_name = {json.dumps(v, sort_keys=True): k for k, v in voices.items()}
    noise_name = {json.dumps(v, sort_keys=True): k for k, v in noises.items()}
    table: dict[str, Any] = {}
    for agent in TASKS:
        app = AgentApp(load_definition(EXAMPLES / "agents" / agent))
        chosen = grid(agent, voices, noises)
        cells: dict[tuple[str, str, str], dict[str, list[Any]]] = defaultdict(lambda: {"wer": [], "passed": []})
        began = time.perf_counter()  # wall time: progress for a person
        for number, case in enumerate(chosen, start=1):
            result = await run_voice(case, app, engines)
            dims = case.dimensions
            key = (voice_name[json.dumps(dims["persona.voice"], sort_keys=True)], dims["environment.channel"],
                   noise_name[json.dumps(dims["environment.noise"], sort_keys=True)])
            cells[key]["wer"] += [h.wer for h in result.heard if h.wer is not None]
            cells[key]["passed"].append(result.passed)
            if number % 10 == 0 or number == len(chosen):
                log(f"hearing {agent} {number}/{len(chosen)} ({time.perf_counter() - began:.0f} s)")
        table[agent] = [
            {"voice": v, "channel": c, "noise": n, "turns": len(cell["wer"]),
             "wer_mean": round(float(np.mean(cell["wer"])), 3) if cell["wer"] else None,
             "wer_p90": round(float(np.percentile(cell["wer"], 90)), 3) if cell["wer"] else None,
             "passed": sum(cell["passed"]), "calls": len(cell["passed"])}
            for (v, c, n), cell in cells.items()
        ]
    return table


# ------------------------------------------------------------------------------- report
def markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "speed" in result:
        lines += speed_markdown(result["speed"])
    if "hearing" in result:
        lines += hearing_markdown(result["hearing"])
    return "\n".join(lines)


def speed_markdown(s: dict[str, Any]) -> list[str]:
    lines = [
        f"Speed: {s['calls']} calls of `{s['suite']}` ({s['spoken_turns']} spoken turns, {s['passed']} passed), "
        f"{s['wall_s']} s of wall time for {s['call_s']} s of calls: **{s['x_real_time']}x real time** "
        f"(engines loaded once before, {s['engines_warm_s']} s).", "",
        "| where the wall time went | seconds | share | calls |", "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {p['what']} | {p['seconds']} | {100 * p['share_of_wall']:.0f} % | {p['count']} |" for p in s["parts"]]
    lines += [f"| the rest: the call's event loop (frames, endpointing, dialogue, store), the clock's stepping | "
              f"{s['rest_s']} | {100 * s['rest_s'] / s['wall_s']:.0f} % | |", ""]
    if "realtime" in s:
        r = s["realtime"]
        lines += ["| case | fast: verdict, wall / call s | real time (native): verdict, wall / call s |", "| --- | --- | --- |"]
        lines += [f"| {row['name']} | {'pass' if row['fast_passed'] else 'FAIL ' + ','.join(row['fast_failures'])}, "
                  f"{row['fast_wall_s']} / {row['fast_call_s']} | "
                  f"{'pass' if row['realtime_passed'] else 'FAIL ' + ','.join(row['realtime_failures'])}, "
                  f"{row['realtime_wall_s']} / {row['realtime_call_s']} |" for row in r["rows"]]
        lines += ["", f"Same verdicts: {r['same_verdicts']}/{len(r['rows'])}; real time took {r['realtime_wall_s']} s, "
                  f"fast mode {r['fast_wall_s']} s for the same calls: **{r['speedup']}x** measured.", ""]
    return lines


def hearing_markdown(hearing: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Both agents side by side, one row per voice, line and noise."""
    agents = list(hearing)
    cells = {agent: {(row["voice"], row["channel"], row["noise"]): row for row in rows} for agent, rows in hearing.items()}
    lines = ["| voice | line | noise | " + " | ".join(f"{a}: WER mean | p90 | tasks" for a in agents) + " |",
             "| --- | --- | --- | " + " | ".join("---: | ---: | ---:" for _ in agents) + " |"]
    for key in cells[agents[0]]:
        parts = []
        for agent in agents:
            row = cells[agent][key]
            parts.append(f"{percent(row['wer_mean'])} | {percent(row['wer_p90'])} | {row['passed']}/{row['calls']}")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(parts) + " |")
    return [*lines, ""]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="6 calls, 1 in real time, a 2 x 2 x 2 hearing grid")
    parser.add_argument("--skip-realtime", action="store_true", help="leave the real-time peer out")
    parser.add_argument("--part", choices=["speed", "hearing", "all"], default="all", help="run one part only")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    count, realtime = (6, 1) if args.quick else (20, len(REALTIME_SCENARIOS))
    voices = dict(list(VOICES.items())[:2]) if args.quick else VOICES
    noises = {k: NOISES[k] for k in ("quiet", "café babble 10 dB")} if args.quick else NOISES
    began = time.perf_counter()  # wall time: how long the benchmark took
    result: dict[str, Any] = {"quick": args.quick}
    if args.part in ("speed", "all"):
        result["speed"] = anyio.run(speed, count, 0 if args.skip_realtime else realtime)
    if args.part in ("hearing", "all"):
        result["hearing"] = anyio.run(hearing, voices, noises)
    result["benchmark_s"] = round(time.perf_counter() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(markdown(result))
    log(f"done in {result['benchmark_s']} s; JSON in {args.out}")


if __name__ == "__main__":
    main()
