"""A2 - pass-through chain: 10 PassThrough processors + 1 timestamping sink (Pipecat).

Frame types: InputAudioRawFrame (20 ms/16 kHz, a SystemFrame: handled on each processor's input
task) and OutputAudioRawFrame (20 ms/24 kHz, a DataFrame: input queue -> process queue ->
process task). Patterns: isolated (queue one frame, wait until it is at the sink, queue the
next: transit mean/p99) and burst (queue all back to back: throughput = N / (last arrival -
first queue)). t0 is taken immediately before ``worker.queue_frame``. 200 warm-up frames,
10,000 frames per run, 5 runs (quick: 2,000 frames, 3 runs).
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
from pipecat.pipeline.pipeline import Pipeline

N_PASSTHROUGH = 10
WARMUP_FRAMES = 200

KINDS = {
    "input_audio": (bl.InputAudioRawFrame, bl.SPEECH, bl.IN_RATE),  # SystemFrame
    "output_audio": (bl.OutputAudioRawFrame, bl.OUT_CHUNK, bl.OUT_RATE),  # DataFrame
}


async def one_run(config: str, kind: str, n_frames: int) -> dict[str, float]:
    cls, payload, rate = KINDS[kind]
    sink = bl.ChainSink(cls)
    pipeline = Pipeline([bl.PassThrough(name=f"pass{i}") for i in range(N_PASSTHROUGH)] + [sink])
    worker = bl.make_worker(pipeline, config)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _on_started(w, f):
        started.set()

    runner = bl.WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    await started.wait()
    queue = worker.queue_frame
    perf = bl.perf_ns
    out: dict[str, float] = {}

    # warm-up + isolated
    transit: list[float] = []
    t_begin = 0
    for i in range(WARMUP_FRAMES + n_frames):
        if i == WARMUP_FRAMES:
            t_begin = perf()
        frame = cls(audio=payload, sample_rate=rate, num_channels=1)
        fut = sink.expect(len(sink.arrivals) + 1)
        t0 = perf()
        await queue(frame)
        await fut
        if i >= WARMUP_FRAMES:
            transit.append((sink.arrivals[-1] - t0) / 1e6)
    t_end = sink.arrivals[-1]
    d = describe(transit)
    out["isolated.transit_mean_ms"] = d["mean"]
    out["isolated.transit_p50_ms"] = d["p50"]
    out["isolated.transit_p99_ms"] = d["p99"]
    out["isolated.throughput_fps"] = n_frames / ((t_end - t_begin) / 1e9)

    # burst
    base = len(sink.arrivals)
    frames = [cls(audio=payload, sample_rate=rate, num_channels=1) for _ in range(n_frames)]
    queued = [0] * n_frames
    fut = sink.expect(base + n_frames)
    t_first = perf()
    for i, frame in enumerate(frames):
        queued[i] = perf()
        await queue(frame)
    await asyncio.wait_for(fut, 120)
    arrivals = sink.arrivals[base:]
    bt = [(a - q) / 1e6 for a, q in zip(arrivals, queued, strict=True)]
    db = describe(bt)
    out["burst.transit_mean_ms"] = db["mean"]
    out["burst.transit_p99_ms"] = db["p99"]
    out["burst.throughput_fps"] = n_frames / ((arrivals[-1] - t_first) / 1e9)

    await worker.queue_frame(bl.EndFrame())
    await task
    return out


def main() -> None:
    p = base_arg_parser(__doc__)
    p.add_argument("--frames", type=int, default=None, help="frames per run (default 10000, quick 2000)")
    args = p.parse_args()
    runs = runs_for(args)
    n_frames = args.frames or (2000 if args.quick else 10_000)
    gate = gate_from_args(args)
    t_start = time.monotonic()

    per_run: list[dict[str, float]] = []
    others = []
    for r in range(runs):
        row: dict[str, float] = {}
        for kind in KINDS:
            gate.wait(f"run {r} {kind}")
            meter = NoiseMeter().start()
            res = asyncio.run(one_run(args.config, kind, n_frames))
            others.append(round(meter.stop(), 3))
            row.update({f"{kind}.{k}": v for k, v in res.items()})
            log(
                f"A2 {args.config} run {r} {kind}: isolated mean {res['isolated.transit_mean_ms']:.4f} ms, "
                f"burst {res['burst.throughput_fps']:.0f} f/s (others {others[-1]} cores)"
            )
        per_run.append(row)

    meta = {
        "runs": runs,
        "frames_per_run": n_frames,
        "warmup_frames": WARMUP_FRAMES,
        "passthrough_processors": N_PASSTHROUGH,
        "frame_types": {
            "input_audio": "InputAudioRawFrame (SystemFrame), 640 B",
            "output_audio": "OutputAudioRawFrame (DataFrame), 960 B",
        },
        "quick": args.quick,
        "noise": {"others_cpu_cores_per_run": others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "A2", args.config, "bare", summarize_runs(per_run), meta), args.out)


if __name__ == "__main__":
    main()
