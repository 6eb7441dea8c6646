"""B - concurrency: N real-time calls in one process pinned to one CPU (Pipecat).

Each call is a full STT -> LLM -> TTS -> sink pipeline (bare: realtime StubTTS; transport: output
transport playout pacing), fed by its own task: one input frame every 20 ms on an absolute
schedule ``deadline = t_base + i*20ms/N``, then ``deadline += 20 ms; sleep(deadline - now)``
(never re-anchored). Input script: 125-frame cycle of 50 speech + 75 silence; call i starts at
position (i*37) mod 125. All N calls are started first, feeding starts 0.3 s later, 3 s warm-up,
10 s window (quick: 1 s warm-up, 3 s window).

A run passes if p99 input lag < 20 ms and p99 output lag < 20 ms; a level passes if the median
of its runs passes (3 fresh processes; quick: 1). ``--sweep``: levels 10, 25, 50, 100, 200, 400,
800 until the first failure, then up to 3 bisection steps. Each run is a fresh process that pins
itself to the last CPU with os.sched_setaffinity. A run during which other processes used more
than --discard-above cores is discarded and re-run (bounded).

Modes: ``--sweep`` | ``--calls N`` (one level, runs in fresh processes) | ``--child`` (internal).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import (  # noqa: E402
    NoiseMeter,
    base_arg_parser,
    describe,
    emit,
    gate_from_args,
    linear_slope,
    log,
    make_result,
    pin_to_last_cpu,
    rss_bytes,
    runs_for,
    summarize_runs,
    summary,
)

LEVELS = [10, 25, 50, 100, 200, 400, 800]
BISECT_STEPS = 3
CYCLE = 125
SPEECH_FRAMES = 50
EOT_POS = SPEECH_FRAMES + 15 - 1  # the 15th silence frame of the cycle
LAG_LIMIT_MS = 20.0
FEED_DELAY_S = 0.3


# ----------------------------------------------------------------------------------------------
# child: one run in this process
# ----------------------------------------------------------------------------------------------


async def child_run(n: int, config: str, shape: str, warmup_s: float, window_s: float) -> dict:
    import benchlib as bl

    perf = bl.perf_ns
    rss0 = rss_bytes()
    calls = []
    t_c0 = perf()
    for _ in range(n):
        c = bl.Call(config=config, shape=shape, paced=True)
        await c.start()
        calls.append(c)
    start_all_s = (perf() - t_c0) / 1e9

    t_base = perf() + int(FEED_DELAY_S * 1e9)
    ws = t_base + int(warmup_s * 1e9)
    we = ws + int(window_s * 1e9)
    in_lag: list[int] = []
    out_lag: list[int] = []
    turn: list[int] = []

    def make_hook(call):
        def on_audio(frame, now, sched):
            if call.t_eot is not None:
                if ws <= call.t_eot < we:
                    turn.append(now - call.t_eot)
                call.t_eot = None
            if sched is not None and ws <= sched < we:
                out_lag.append(now - sched)

        return on_audio

    for c in calls:
        c.probe.on_audio = make_hook(c)

    speech_frame, silence_frame = bl.speech_frame, bl.silence_frame
    period = bl.CHUNK_NS

    async def feed(call, i: int):
        pos = (i * 37) % CYCLE
        deadline = t_base + (i * period) // n
        push = call.push
        while True:
            await asyncio.sleep(max(0, deadline - perf()) / 1e9)
            woke = perf()
            if ws <= deadline < we:
                in_lag.append(woke - deadline)
            if pos == EOT_POS:
                call.t_eot = perf()
            await push(speech_frame() if pos < SPEECH_FRAMES else silence_frame())
            pos = (pos + 1) % CYCLE
            deadline += period

    feeders = [asyncio.create_task(feed(c, i)) for i, c in enumerate(calls)]

    await asyncio.sleep(max(0, ws - perf()) / 1e9)
    import gc

    gcw = GcWatch()
    gc.callbacks.append(gcw)
    meter = NoiseMeter().start()
    cpu0 = os.times()
    w0 = perf()
    await asyncio.sleep(max(0, we - perf()) / 1e9)
    cpu1 = os.times()
    w1 = perf()
    others = meter.stop()
    gc.callbacks.remove(gcw)
    rss_running = rss_bytes()
    late_s = (w1 - we) / 1e9
    # let lagging feeders catch up with the window end? No: their samples beyond "now" are not
    # taken; a saturated loop simply has fewer samples, with huge lag, which fails the run.
    for f in feeders:
        f.cancel()

    cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    wall_s = (w1 - w0) / 1e9
    di = describe([x / 1e6 for x in in_lag])
    do = describe([x / 1e6 for x in out_lag])
    dt = describe([x / 1e6 for x in turn])
    res = {
        "calls": n,
        "input_lag_p50_ms": di.get("p50"),
        "input_lag_p99_ms": di.get("p99"),
        "input_lag_max_ms": di.get("max"),
        "output_lag_p50_ms": do.get("p50"),
        "output_lag_p99_ms": do.get("p99"),
        "output_lag_max_ms": do.get("max"),
        "turn_latency_p50_ms": dt.get("p50"),
        "turn_latency_p99_ms": dt.get("p99"),
        "cpu_pct": 100.0 * cpu_s / wall_s if wall_s > 0 else None,
        "rss_before_mb": rss0 / 2**20,
        "rss_running_mb": rss_running / 2**20,
        "rss_per_call_kb": (rss_running - rss0) / 1024 / n,
        "others_cpu_cores": others,
        "n_input_samples": di["n"],
        "n_output_samples": do["n"],
        "n_turns": dt["n"],
        "start_all_s": start_all_s,
        "gc_collections_in_window": gcw.n,
        "gc_max_pause_ms": gcw.max_pause * 1000,
        "gc_total_ms": gcw.total * 1000,
        "window_end_late_s": late_s,
    }
    res["pass"] = (
        res["input_lag_p99_ms"] is not None
        and res["output_lag_p99_ms"] is not None
        and res["input_lag_p99_ms"] < LAG_LIMIT_MS
        and res["output_lag_p99_ms"] < LAG_LIMIT_MS
    )
    return res


class GcWatch:
    """Counts collections and the longest GC pause (GC stays on, as in the reference runs)."""

    def __init__(self):
        self.n = [0, 0, 0]
        self.max_pause = 0.0
        self.total = 0.0
        self._t = 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._t = time.perf_counter()
        else:
            d = time.perf_counter() - self._t
            self.n[info["generation"]] += 1
            self.total += d
            self.max_pause = max(self.max_pause, d)


def child_main(args) -> None:
    cpu = pin_to_last_cpu()

    async def run_and_exit():
        res = await child_run(args.calls, args.config, args.shape, args.warmup, args.window)
        res["cpu"] = cpu
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()
        # Exit from inside the loop: tearing down (or having asyncio.run cancel) N running
        # pipelines is not part of the measurement and can take long.
        os._exit(0)

    asyncio.run(run_and_exit())


# ----------------------------------------------------------------------------------------------
# parent: fresh process per run, levels, bisection
# ----------------------------------------------------------------------------------------------

LEVEL_METRICS = [
    "input_lag_p50_ms",
    "input_lag_p99_ms",
    "output_lag_p50_ms",
    "output_lag_p99_ms",
    "turn_latency_p50_ms",
    "turn_latency_p99_ms",
    "cpu_pct",
    "rss_running_mb",
    "rss_per_call_kb",
    "others_cpu_cores",
]


def run_child(args, n: int) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--calls",
        str(n),
        "--config",
        args.config,
        "--shape",
        args.shape,
        "--warmup",
        str(args.warmup),
        "--window",
        str(args.window),
    ]
    timeout = 120 + FEED_DELAY_S + args.warmup + args.window + n * 0.05
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"child failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_level(args, gate, n: int, reps: int) -> dict:
    kept: list[dict] = []
    discarded = 0
    attempts = 0
    max_attempts = reps + (1 if args.quick else 3)
    while len(kept) < reps and attempts < max_attempts:
        gate.wait(f"N={n} rep {attempts}")
        res = run_child(args, n)
        attempts += 1
        noisy = res["others_cpu_cores"] > args.discard_above
        log(
            f"B {args.config}/{args.shape} N={n}: in p99 {res['input_lag_p99_ms']:.2f} ms, "
            f"out p99 {res['output_lag_p99_ms'] if res['output_lag_p99_ms'] is not None else float('nan'):.2f} ms, "
            f"cpu {res['cpu_pct']:.1f}%, others {res['others_cpu_cores']:.2f} cores"
            + (" -> discarded (noisy)" if noisy and attempts < max_attempts else "")
        )
        if noisy and attempts < max_attempts:
            discarded += 1
            continue
        kept.append(res)
    med_in = statistics.median(r["input_lag_p99_ms"] for r in kept)
    med_out_vals = [r["output_lag_p99_ms"] for r in kept if r["output_lag_p99_ms"] is not None]
    med_out = statistics.median(med_out_vals) if med_out_vals else float("inf")
    passed = med_in < LAG_LIMIT_MS and med_out < LAG_LIMIT_MS
    row = {
        "calls": n,
        "pass": passed,
        "runs": len(kept),
        "run_passes": [r["pass"] for r in kept],
        "noisy_runs_discarded": discarded,
        "metrics": {k: summary([r.get(k) for r in kept]) for k in LEVEL_METRICS},
        "raw": kept,
    }
    log(
        f"B {args.config}/{args.shape} N={n}: {'PASS' if passed else 'FAIL'} (median p99 in {med_in:.2f} / out {med_out:.2f} ms)"
    )
    return row


def level_headline(row: dict) -> dict:
    m = row["metrics"]
    out = {k: m[k] for k in LEVEL_METRICS}
    cpu = m["cpu_pct"]["median"]
    out["cpu_pct_per_call"] = summary([cpu / row["calls"]] if cpu is not None else [])
    return out


def main() -> None:
    p = base_arg_parser(__doc__)
    p.add_argument("--sweep", action="store_true", help="levels + bisection (max passing calls)")
    p.add_argument("--calls", type=int, default=None, help="one level with N calls")
    p.add_argument("--child", action="store_true", help=argparse_hidden())
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds (default 3, quick 1)")
    p.add_argument("--window", type=float, default=None, help="measurement window seconds (default 10, quick 3)")
    p.add_argument("--discard-above", type=float, default=0.35, help="discard a run if others used more cores")
    p.add_argument("--levels", type=str, default=None, help="comma-separated sweep levels")
    args = p.parse_args()
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.window is None:
        args.window = 3.0 if args.quick else 10.0

    if args.child:
        child_main(args)
        return
    if not args.sweep and not args.calls:
        p.error("give --sweep or --calls N")

    reps = runs_for(args, full=3, quick=1)
    gate = gate_from_args(args)
    t_start = time.monotonic()
    levels_done: list[dict] = []

    if args.sweep:
        levels = [int(x) for x in args.levels.split(",")] if args.levels else LEVELS
        last_pass = None
        first_fail = None
        for n in levels:
            row = run_level(args, gate, n, reps)
            levels_done.append(row)
            if row["pass"]:
                last_pass = n
            else:
                first_fail = n
                break
        for _ in range(BISECT_STEPS):
            if last_pass is None or first_fail is None:
                break
            mid = (last_pass + first_fail) // 2
            if mid <= last_pass or mid >= first_fail:
                break
            row = run_level(args, gate, mid, reps)
            levels_done.append(row)
            if row["pass"]:
                last_pass = mid
            else:
                first_fail = mid
        levels_done.sort(key=lambda r: r["calls"])
        metrics = {
            "max_passing_calls": summary([last_pass or 0]),
            "first_failing_calls": summary([first_fail] if first_fail else []),
        }
        best = next((r for r in levels_done if r["calls"] == last_pass), None)
        if best is not None:
            metrics.update({f"at_max.{k}": v for k, v in level_headline(best).items()})
        passing = [r for r in levels_done if r["pass"]]
        if len(passing) >= 2:
            xs = [r["calls"] for r in passing]
            ys = [r["metrics"]["rss_running_mb"]["median"] * 1024 for r in passing]
            metrics["rss_marginal_kb_per_call"] = summary([linear_slope(xs, ys)])
    else:
        row = run_level(args, gate, args.calls, reps)
        levels_done.append(row)
        metrics = {"pass": summary([1.0 if row["pass"] else 0.0]), **level_headline(row)}
        metrics.update(
            summarize_runs([{k: r[k] for k in ("input_lag_max_ms", "output_lag_max_ms")} for r in row["raw"]])
        )

    meta = {
        "mode": "sweep" if args.sweep else "level",
        "runs_per_level": reps,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "lag_limit_ms": LAG_LIMIT_MS,
        "pinned": "each run pins itself to the last CPU (os.sched_setaffinity)",
        "levels": [{k: v for k, v in r.items() if k != "raw"} for r in levels_done],
        "quick": args.quick,
        "noise": {"discard_above_cores": args.discard_above, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
    }
    try:
        import importlib.metadata as md

        meta["pipecat_version"] = md.version("pipecat-ai")
    except Exception:
        pass
    emit(make_result("pipecat", "B", args.config, args.shape, metrics, meta), args.out)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
