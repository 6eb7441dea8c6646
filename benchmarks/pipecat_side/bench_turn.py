"""A1 - turn overhead: end-of-turn frame queued -> first output audio at the sink (Pipecat).

Per turn: queue 50 speech + 14 silence frames; wait until all 64 reached the end of the
pipeline; sleep 10 ms; t0; queue the 15th silence frame (completes end-of-turn); t1 = first
output audio at the sink (bare) / output write (transport, pacing off); wait for all 40 chunks
and TTS-stopped. 3 warm-up + 30 measured turns per run, 5 runs (quick: 2 + 15, 3 runs).
"""

from __future__ import annotations

import asyncio
import time

import benchlib as bl
from common import (
    NoiseMeter,
    base_arg_parser,
    describe,
    emit,
    gate_from_args,
    log,
    make_result,
    runs_for,
    summarize_runs,
)


async def one_run(args, warmup: int, turns: int) -> tuple[list[float], list]:
    call = bl.Call(
        config=args.config,
        shape=args.shape,
        paced=False,
        llm_ttfb_s=args.llm_ttfb,
        enable_metrics=args.metrics,
    )
    probe = call.probe
    await call.start()
    lat_ms: list[float] = []
    for k in range(warmup + turns):
        base_in = probe.n_in
        for _ in range(50):
            await call.push(bl.speech_frame())
        for _ in range(bl.EOT_SILENCE - 1):
            await call.push(bl.silence_frame())
        await probe.wait_until(lambda b=base_in: probe.n_in >= b + 64)
        await asyncio.sleep(0.010)
        n_out0 = probe.n_out
        stopped0 = probe.n_tts_stopped
        probe.arm()
        eot = bl.silence_frame()
        t0 = bl.perf_ns()
        await call.push(eot)
        await probe.wait_until(
            lambda n=n_out0, s=stopped0: probe.n_out >= n + bl.CHUNKS_PER_RESPONSE and probe.n_tts_stopped >= s + 1
        )
        t1 = probe.t_first_audio
        if k >= warmup:
            lat_ms.append((t1 - t0) / 1e6)
    metrics = list(probe.metrics)
    await call.stop()
    return lat_ms, metrics


def main() -> None:
    p = base_arg_parser(__doc__)
    p.add_argument("--metrics", action="store_true", help="PipelineParams(enable_metrics=True)")
    p.add_argument("--llm-ttfb", type=float, default=0.0, help="stub LLM delay before first token (s)")
    p.add_argument("--turns", type=int, default=None)
    args = p.parse_args()
    runs = runs_for(args)
    turns = args.turns or (15 if args.quick else 30)
    warmup = 2 if args.quick else 3
    gate = gate_from_args(args)

    per_run = []
    pooled: list[float] = []
    others = []
    all_metrics: list = []
    t_start = time.monotonic()
    for r in range(runs):
        gate.wait(f"run {r}")
        meter = NoiseMeter().start()
        lat, mets = asyncio.run(one_run(args, warmup, turns))
        others.append(round(meter.stop(), 3))
        all_metrics.extend(mets)
        d = describe(lat)
        per_run.append(
            {
                "eot_to_first_audio_ms": d["p50"],
                "eot_to_first_audio_mean_ms": d["mean"],
                "eot_to_first_audio_p99_ms": d["p99"],
                "eot_to_first_audio_max_ms": d["max"],
            }
        )
        pooled.extend(lat)
        log(f"A1 {args.config}/{args.shape} run {r}: median {d['p50']:.3f} ms (others {others[-1]} cores)")

    pd = describe(pooled)
    meta = {
        "runs": runs,
        "turns_per_run": turns,
        "warmup_turns": warmup,
        "enable_metrics": args.metrics,
        "llm_ttfb_s": args.llm_ttfb,
        "quick": args.quick,
        "pooled": {k: round(v, 4) for k, v in pd.items()},
        "noise": {"others_cpu_cores_per_run": others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    if args.metrics:
        meta["pipecat_builtin_metrics"] = bl.metrics_summary(all_metrics)
    emit(make_result(bl.FRAMEWORK, "A1", args.config, args.shape, summarize_runs(per_run), meta), args.out)


if __name__ == "__main__":
    main()
