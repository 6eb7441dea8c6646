"""D - startup: per-call construct / start / teardown, 100 concurrent starts, import time, and
memory over 1,000 sequential calls (Pipecat).

* import: the Pipecat modules a bot needs, timed inside a fresh interpreter (5 reps; quick 3);
* sequential: 10 warm-up + 200 calls (quick 100), one at a time: construct (stubs + pipeline +
  PipelineWorker), start (WorkerRunner created and started -> on_pipeline_started, i.e. the
  StartFrame reached the end of the pipeline), teardown (EndFrame queued -> runner.run()
  returned);
* burst: 100 calls constructed and started concurrently, time until all have started;
* memory (first, so the 100-call bursts do not disturb it): 10 warm-up calls, then 1,000
  sequential calls (construct+start+teardown); RSS sampled every 100 calls; reports RSS
  before/after, the least-squares slope in KB per call over all samples and over the second
  half (steady state), and RSS after gc.collect().
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
import pipecat.frames.frames
import pipecat.pipeline.pipeline
import pipecat.pipeline.worker
import pipecat.processors.frame_processor
import pipecat.transports.base_input
import pipecat.transports.base_output
import pipecat.workers.runner
print(time.perf_counter() - t0)
"""


def import_times(reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        r = subprocess.run([sys.executable, "-c", IMPORT_CODE], capture_output=True, text=True, check=True)
        out.append(float(r.stdout.strip().splitlines()[-1]))
    return out


async def one_call(config: str, shape: str) -> tuple[int, int, int]:
    t0 = bl.perf_ns()
    call = bl.Call(config=config, shape=shape)
    t1 = bl.perf_ns()
    await call.start()
    t2 = call.t_started or bl.perf_ns()
    t2b = bl.perf_ns()
    await call.stop()
    t3 = bl.perf_ns()
    return t1 - t0, t2 - t1, t3 - t2b


async def one_run(config: str, shape: str, warmup: int, n: int, burst_n: int) -> dict[str, float]:
    construct, start, both, teardown = [], [], [], []
    for i in range(warmup + n):
        c, s, t = await one_call(config, shape)
        if i >= warmup:
            construct.append(c / 1e6)
            start.append(s / 1e6)
            both.append((c + s) / 1e6)
            teardown.append(t / 1e6)
    # burst: construct + start burst_n calls concurrently
    t0 = bl.perf_ns()
    calls = [bl.Call(config=config, shape=shape) for _ in range(burst_n)]
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


async def memory_run(config: str, shape: str, n: int, every: int) -> dict:
    for _ in range(10):
        await one_call(config, shape)
    xs, ys = [0], [rss_bytes()]
    for i in range(1, n + 1):
        await one_call(config, shape)
        if i % every == 0:
            xs.append(i)
            ys.append(rss_bytes())
    gc.collect()
    rss_gc = rss_bytes()
    slope_kb = linear_slope(xs, ys) / 1024
    half = len(xs) // 2
    slope2_kb = linear_slope(xs[half:], ys[half:]) / 1024
    return {
        "calls": n,
        "rss_before_mb": ys[0] / 2**20,
        "rss_after_mb": ys[-1] / 2**20,
        "rss_after_gc_mb": rss_gc / 2**20,
        "rss_slope_kb_per_call": slope_kb,
        "rss_slope_2nd_half_kb_per_call": slope2_kb,
        "samples_mb": [round(y / 2**20, 2) for y in ys],
    }


def main() -> None:
    p = base_arg_parser(__doc__)
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
    mem = asyncio.run(memory_run(args.config, args.shape, args.memory_calls, max(1, args.memory_calls // 10)))
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
        res = asyncio.run(one_run(args.config, args.shape, 10, n, args.burst))
        others.append(round(meter.stop(), 3))
        per_run.append(res)
        log(
            f"D {args.config}/{args.shape} run {r}: construct+start {res['construct_start_ms']:.3f} ms, "
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
    ):
        metrics[f"seq{mem['calls']}.{k}"] = summary([mem[k]])
    meta = {
        "runs": runs,
        "sequential_calls_per_run": n,
        "warmup_calls": 10,
        "burst_calls": args.burst,
        "import_reps_s": [round(x, 4) for x in imp],
        "memory": mem,
        "quick": args.quick,
        "noise": {"others_cpu_cores_per_run": others, "others_cpu_cores_memory": mem_others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "D", args.config, args.shape, metrics, meta), args.out)


if __name__ == "__main__":
    main()
