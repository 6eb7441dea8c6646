"""C - barge-in: speech frame pushed while the agent speaks -> agent audio stopped (Callwright).

One call, output paced at 1x by the real Playout. Barge-in options make the first speech frame
interrupt, as the Pipecat stub does: ``BargeInOptions(min_speech_ms=20, min_words=0,
echo_check=False)``. Per trial: push 25 speech + 15 silence (a user turn) -> the agent speaks;
wait until the 10th output chunk of the reply was written, then (trial mod 10) * 2 ms; t0; push
ONE speech frame; watch 300 ms; 15 silence frames (one speech frame < min_speech: no new turn);
wait until they reached the VAD, then 20 ms idle. 2 warm-up + 20 measured trials, 5 runs (quick:
1 + 8 trials, 3 runs).

interrupt_to_sink_ms = ``io.clear()`` called - t0. ``Call._barge_in`` first stops the Playout
(synchronously drops every queued frame and bumps its generation, so a frame already waiting for
its slot never leaves), then calls ``io.clear()`` (a real transport tells the client to drop its
buffer here), then cancels the reply. stop_ms = max(interrupt_to_sink, last chunk after t0).
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

WATCH_S = 0.300


async def one_run(args, warmup: int, trials: int) -> list[dict]:
    call = bl.BenchCall(config=args.config, barge_in=bl.BARGE_IN_FIRST_FRAME)
    probe = call.probe
    await call.start()
    out = []
    for k in range(warmup + trials):
        n_out0 = probe.n_out
        for _ in range(25):
            call.push(bl.speech_frame())
        for _ in range(bl.EOT_SILENCE):
            call.push(bl.silence_frame())
        await probe.wait_until(lambda n=n_out0: probe.n_out >= n + 10)
        extra_ms = (k % 10) * 2
        if extra_ms:
            await asyncio.sleep(extra_ms / 1000)
        n_clear1 = probe.n_clears
        n_out_t0 = probe.n_out
        base_in = probe.n_in
        t0 = bl.perf_ns()
        call.push(bl.speech_frame())
        await probe.wait_until(lambda n=n_clear1: probe.n_clears >= n + 1)
        t_clear = probe.t_last_clear
        n_out_at_clear = probe.n_out_at_last_clear
        await asyncio.sleep(WATCH_S)
        n_out_end = probe.n_out
        t_last = probe.t_last_audio
        for _ in range(bl.EOT_SILENCE):
            call.push(bl.silence_frame())
        await probe.wait_until(lambda b=base_in: probe.n_in >= b + 1 + bl.EOT_SILENCE)
        await asyncio.sleep(0.02)  # idle
        if k < warmup:
            continue
        i2s = (t_clear - t0) / 1e6
        after_t0 = n_out_end - n_out_t0
        last_after_t0 = (t_last - t0) / 1e6 if after_t0 > 0 else 0.0
        out.append(
            {
                "interrupt_to_sink_ms": i2s,
                "chunks_after_t0": after_t0,
                "chunks_after_interruption_at_sink": n_out_end - n_out_at_clear,
                "stop_ms": max(i2s, last_after_t0),
                "extra_ms": extra_ms,
            }
        )
    await call.stop()
    return out


def main() -> None:
    p = base_arg_parser(__doc__)
    p.set_defaults(config="default", shape="transport")
    p.add_argument("--trials", type=int, default=None)
    args = p.parse_args()
    runs = runs_for(args)
    trials = args.trials or (8 if args.quick else 20)
    warmup = 1 if args.quick else 2
    gate = gate_from_args(args)
    t_start = time.monotonic()

    per_run = []
    others = []
    totals = {
        "trials": 0,
        "chunks_after_t0": 0,
        "chunks_after_interruption_at_sink": 0,
        "trials_with_chunk_after_t0": 0,
    }
    pooled: list[float] = []
    for r in range(runs):
        gate.wait(f"run {r}")
        meter = NoiseMeter().start()
        res = asyncio.run(one_run(args, warmup, trials))
        others.append(round(meter.stop(), 3))
        i2s = [t["interrupt_to_sink_ms"] for t in res]
        stop = [t["stop_ms"] for t in res]
        pooled.extend(i2s)
        totals["trials"] += len(res)
        totals["chunks_after_t0"] += sum(t["chunks_after_t0"] for t in res)
        totals["chunks_after_interruption_at_sink"] += sum(t["chunks_after_interruption_at_sink"] for t in res)
        totals["trials_with_chunk_after_t0"] += sum(1 for t in res if t["chunks_after_t0"] > 0)
        d = describe(i2s)
        per_run.append(
            {
                "interrupt_to_sink_ms": d["p50"],
                "interrupt_to_sink_worst_ms": d["max"],
                "stop_ms": describe(stop)["p50"],
                "chunks_after_t0": sum(t["chunks_after_t0"] for t in res),
                "chunks_after_interruption_at_sink": sum(t["chunks_after_interruption_at_sink"] for t in res),
            }
        )
        log(
            f"C callwright/{args.config} run {r}: median {d['p50']:.3f} ms worst {d['max']:.3f} (others {others[-1]})"
        )

    meta = {
        "runs": runs,
        "trials_per_run": trials,
        "warmup_trials": warmup,
        "watch_s": WATCH_S,
        "barge_in": "BargeInOptions(min_speech_ms=20, min_words=0, echo_check=False)",
        "stop_point": "io.clear() (Playout.stop() already dropped the queued frames)",
        "totals": totals,
        "pooled": {k: round(v, 4) for k, v in describe(pooled).items()},
        "quick": args.quick,
        "noise": {"others_cpu_cores_per_run": others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "C", args.config, "transport", summarize_runs(per_run), meta), args.out)


if __name__ == "__main__":
    main()
