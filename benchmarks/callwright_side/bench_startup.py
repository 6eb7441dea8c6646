"""D - startup: per-call construct / start / teardown, 100 concurrent starts, import time, and
memory over 1,000 sequential calls (Callwright).

* import: the Callwright modules a bot needs (``callwright.voice.call`` and what it imports:
  endpointing, playback, echo, resilient engines, events, agent base/shaping, soxr, anyio,
  pydantic, numpy), timed inside a fresh interpreter (5 reps; quick 3);
* sequential: 10 warm-up + 200 calls (quick 100), one at a time: construct (stubs + io + Engines +
  ``Call``: streams, resilient wrappers, resamplers, Endpointer, Playout, echo reference),
  start (``call.run()`` task created -> ``CallStarted`` emitted -> one more loop pass, by which
  the hear/think/play/watch tasks have run to their first await), teardown (``hangup()`` ->
  ``run()`` returned, ``CallEnded`` emitted);
* burst: 100 calls constructed and started concurrently, time until all have started;
* memory (first, so the 100-call bursts do not disturb it): 10 warm-up calls, then 1,000
  sequential calls (construct+start+teardown); RSS sampled every 100 calls; reports RSS
  before/after, the least-squares slope in KB per call over all samples and over the second
  half (steady state), and RSS after gc.collect(); then a second 1,000 calls with gc.collect()
  before each sample (``rss_slope_after_gc_kb_per_call``: memory really kept, not cyclic garbage).
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time

import benchlib as bl
from common import (
    NoiseMeter,
    base_arg_parser,
    describe,
    emit,
    gate_from_args,
    linear_slope,
    log,
    make_result,
    rss_bytes,
    runs_for,
    summarize_runs,
    summary,
)

IMPORT_CODE = """
import time
t0 = time.perf_counter()
import callwright.voice.call
import callwright.voice.endpointing
import callwright.agent.base
import callwright.engines.base
import callwright.engines.resilient
import callwright.events
import callwright.clock
import callwright.transport.memory
print(time.perf_counter() - t0)
"""


def import_times(reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        r = subprocess.run([sys.executable, "-c", IMPORT_CODE], capture_output=True, text=True, check=True)
        out.append(float(r.stdout.strip().splitlines()[-1]))
    return out


async def one_call(config: str) -> tuple[int, int, int]:
    t0 = bl.perf_ns()
    call = bl.BenchCall(config=config)
    t1 = bl.perf_ns()
    await call.start()
    t2 = bl.perf_ns()
    await call.stop()
    t3 = bl.perf_ns()
    return t1 - t0, t2 - t1, t3 - t2


async def one_run(config: str, warmup: int, n: int, burst_n: int) -> dict[str, float]:
    construct, start, both, teardown = [], [], [], []
    for i in range(warmup + n):
        c, s, t = await one_call(config)
        if i >= warmup:
            construct.append(c / 1e6)
            start.append(s / 1e6)
            both.append((c + s) / 1e6)
            teardown.append(t / 1e6)
    t0 = bl.perf_ns()
    calls = [bl.BenchCall(config=config) for _ in range(burst_n)]
    await asyncio.gather(*(c.start(wait_s=120) for c in calls))
    burst_ms = (bl.perf_ns() - t0) / 1e6
    await asyncio.gather(*(c.stop(wait_s=120) for c in calls))
    dc, ds, db, dt = describe(construct), describe(start), describe(both), describe(teardown)
    return {
        "construct_ms": dc["p50"],
        "start_ms": ds["p50"],
        "construct_start_ms": db["p50"],
        "construct_start_p99_ms": db["p99"],
        "teardown_ms": dt["p50"],
        "burst_total_ms": burst_ms,
        "burst_per_call_ms": burst_ms / burst_n,
    }


async def memory_run(config: str, n: int, every: int) -> dict:
    for _ in range(10):
        await one_call(config)
    xs, ys = [0], [rss_bytes()]
    for i in range(1, n + 1):
        await one_call(config)
        if i % every == 0:
            xs.append(i)
            ys.append(rss_bytes())
    gc.collect()
    rss_gc = rss_bytes()
    slope_kb = linear_slope(xs, ys) / 1024
    half = len(xs) // 2
    slope2_kb = linear_slope(xs[half:], ys[half:]) / 1024
    # Second pass, same number of calls, gc.collect() before each sample: the part of the slope
    # that is garbage in reference cycles (freed by a full collection) vs memory really kept.
    gx, gy = [0], [rss_gc]
    for i in range(1, n + 1):
        await one_call(config)
        if i % every == 0:
            gc.collect()
            gx.append(i)
            gy.append(rss_bytes())
    return {
        "calls": n,
        "rss_before_mb": ys[0] / 2**20,
        "rss_after_mb": ys[-1] / 2**20,
        "rss_after_gc_mb": rss_gc / 2**20,
        "rss_slope_kb_per_call": slope_kb,
        "rss_slope_2nd_half_kb_per_call": slope2_kb,
        "samples_mb": [round(y / 2**20, 2) for y in ys],
        "rss_slope_after_gc_kb_per_call": linear_slope(gx, gy) / 1024,
        "samples_after_gc_mb": [round(y / 2**20, 2) for y in gy],
    }


def main() -> None:
    p = base_arg_parser(__doc__)
    p.set_defaults(config="default", shape="transport")
    p.add_argument("--calls", type=int, default=None, help="sequential calls per run (default 200, quick 100)")
    p.add_argument("--burst", type=int, default=100)
    p.add_argument("--memory-calls", type=int, default=1000)
    args = p.parse_args()
    runs = runs_for(args)
    n = args.calls or (100 if args.quick else 200)
    gate = gate_from_args(args)
    t_start = time.monotonic()

    gate.wait("import")
    imp = import_times(3 if args.quick else 5)
    log(f"D import: {[round(x, 3) for x in imp]} s")

    gate.wait("memory")
    meter = NoiseMeter().start()
    mem = asyncio.run(memory_run(args.config, args.memory_calls, max(1, args.memory_calls // 10)))
    mem_others = round(meter.stop(), 3)
    log(
        f"D memory: {mem['rss_before_mb']:.1f} -> {mem['rss_after_mb']:.1f} MB over {mem['calls']} calls, "
        f"slope {mem['rss_slope_kb_per_call']:.2f} KB/call"
    )

    per_run = []
    others = []
    for r in range(runs):
        gate.wait(f"run {r}")
        meter = NoiseMeter().start()
        res = asyncio.run(one_run(args.config, 10, n, args.burst))
        others.append(round(meter.stop(), 3))
        per_run.append(res)
        log(
            f"D callwright/{args.config} run {r}: construct+start {res['construct_start_ms']:.3f} ms, "
            f"teardown {res['teardown_ms']:.3f} ms, burst {res['burst_total_ms']:.1f} ms (others {others[-1]})"
        )

    metrics = summarize_runs(per_run)
    metrics["import_s"] = summary(imp)
    for k in (
        "rss_before_mb",
        "rss_after_mb",
        "rss_after_gc_mb",
        "rss_slope_kb_per_call",
        "rss_slope_2nd_half_kb_per_call",
        "rss_slope_after_gc_kb_per_call",
    ):
        metrics[f"seq{mem['calls']}.{k}"] = summary([mem[k]])
    meta = {
        "runs": runs,
        "sequential_calls_per_run": n,
        "warmup_calls": 10,
        "burst_calls": args.burst,
        "started": "CallStarted emitted + one event-loop pass (the four call tasks are parked at their first await)",
        "import_reps_s": [round(x, 4) for x in imp],
        "memory": mem,
        "quick": args.quick,
        "noise": {"others_cpu_cores_per_run": others, "others_cpu_cores_memory": mem_others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "D", args.config, "transport", metrics, meta), args.out)


if __name__ == "__main__":
    main()
