"""A1 - turn overhead: end-of-turn frame pushed -> first output audio written (Callwright).

Per turn: push 50 speech + 14 silence frames; wait until all 64 reached the VAD (the end of the
input path); sleep 10 ms; t0; push the 15th silence frame (the Endpointer ends the turn on it);
t1 = first ``io.send_audio`` of the reply (the Playout's lead frames leave at once, so pacing does
not delay t1); wait for all 40 chunks and the AgentTurn event (the reply has played out), so the
next turn starts with the agent silent. 3 warm-up + 30 measured turns per run, 5 runs (quick:
2 + 15, 3 runs). Compare with Pipecat's ``transport`` shape.
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


async def one_run(args, warmup: int, turns: int) -> list[float]:
    call = bl.BenchCall(config=args.config, llm_ttfb_s=args.llm_ttfb)
    probe = call.probe
    await call.start()
    lat_ms: list[float] = []
    for k in range(warmup + turns):
        base_in = probe.n_in
        for _ in range(50):
            call.push(bl.speech_frame())
        for _ in range(bl.EOT_SILENCE - 1):
            call.push(bl.silence_frame())
        await probe.wait_until(lambda b=base_in: probe.n_in >= b + 64)
        await asyncio.sleep(0.010)
        n_out0 = probe.n_out
        turns0 = probe.n_agent_turns
        probe.arm()
        eot = bl.silence_frame()
        t0 = bl.perf_ns()
        call.push(eot)
        await probe.wait_until(
            lambda n=n_out0, a=turns0: probe.n_out >= n + bl.CHUNKS_PER_RESPONSE and probe.n_agent_turns >= a + 1
        )
        t1 = probe.t_first_audio
        if k >= warmup:
            lat_ms.append((t1 - t0) / 1e6)
    await call.stop()
    return lat_ms


def main() -> None:
    p = base_arg_parser(__doc__)
    p.set_defaults(config="default", shape="transport")
    p.add_argument("--llm-ttfb", type=float, default=0.0, help="stub agent delay before the first Say (s)")
    p.add_argument("--turns", type=int, default=None)
    args = p.parse_args()
    runs = runs_for(args)
    turns = args.turns or (15 if args.quick else 30)
    warmup = 2 if args.quick else 3
    gate = gate_from_args(args)

    per_run = []
    pooled: list[float] = []
    others = []
    t_start = time.monotonic()
    for r in range(runs):
        gate.wait(f"run {r}")
        meter = NoiseMeter().start()
        lat = asyncio.run(one_run(args, warmup, turns))
        others.append(round(meter.stop(), 3))
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
        log(f"A1 callwright/{args.config} run {r}: median {d['p50']:.3f} ms (others {others[-1]} cores)")

    pd = describe(pooled)
    meta = {
        "runs": runs,
        "turns_per_run": turns,
        "warmup_turns": warmup,
        "llm_ttfb_s": args.llm_ttfb,
        "quick": args.quick,
        "t1": "first io.send_audio of the reply (Playout always paces; the 60 ms lead leaves at once)",
        "pooled": {k: round(v, 4) for k, v in pd.items()},
        "noise": {"others_cpu_cores_per_run": others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "A1", args.config, "transport", summarize_runs(per_run), meta), args.out)


if __name__ == "__main__":
    main()
