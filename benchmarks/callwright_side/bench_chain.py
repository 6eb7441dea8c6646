"""A2 - per-frame routing cost of Callwright's input path (NOT a 10-processor chain).

Callwright has no user-extensible processor chain: caller audio takes one fixed route,
``Call.push_audio`` (sync, bounded ingress stream) -> hear task -> input resampler (identity at
16 kHz) -> ``Endpointer`` -> VAD. This measures that whole route, ending at a timestamping VAD
stub that reports silence (so no turn starts), against Pipecat's 10 pass-through processors + sink.
The shapes differ; read the ratio as "per-frame framework cost a caller's audio pays", not as a
per-hop comparison.

* isolated: push one frame, wait until the VAD saw it, push the next: transit mean / p99;
* burst: keep the ingress stream full without overflowing it (Callwright drops the oldest audio
  beyond ``CallOptions.ingress_frames`` = 250 frames, by design, so 10,000 frames cannot be queued
  at once): throughput = N / (last arrival - first push), in frames/s.

``t0`` is taken immediately before ``push_audio``. 200 warm-up frames, 10,000 frames per run,
5 runs (quick: 2,000 frames, 3 runs). Only input audio: Callwright's output audio always goes
through the real-time Playout (its cost is in B's output lag and CPU).
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

WARMUP_FRAMES = 200
INGRESS = 250  # CallOptions.ingress_frames


class ChainVadStream:
    """Timestamps every frame; always silence (no onset, no turn)."""

    frame_samples = bl.IN_SAMPLES

    def __init__(self, arrivals: list[int]) -> None:
        self.arrivals = arrivals
        self.target = 0
        self.fut: asyncio.Future | None = None

    def speech_probability(self, frame) -> float:
        self.arrivals.append(bl.perf_ns())
        if self.fut is not None and len(self.arrivals) >= self.target and not self.fut.done():
            self.fut.set_result(True)
        return 0.0

    def reset(self) -> None:
        pass

    def expect(self, count: int) -> asyncio.Future:
        self.target = count
        self.fut = asyncio.get_running_loop().create_future()
        if len(self.arrivals) >= count:
            self.fut.set_result(True)
        return self.fut


class ChainVad:
    name = "chain-vad"
    sample_rate = bl.IN_RATE

    def __init__(self) -> None:
        self.arrivals: list[int] = []
        self.streams: list[ChainVadStream] = []

    def stream(self) -> ChainVadStream:
        s = ChainVadStream(self.arrivals)
        self.streams.append(s)
        return s


async def one_run(config: str, n_frames: int) -> dict[str, float]:
    vad = ChainVad()
    probe = bl.Probe()
    io = bl.BenchIO(probe)
    call = bl.Call(
        bl.StubAgent(),
        bl.Engines(stt=bl.StubStt(), tts=bl.StubTts(), vad=vad, policy=bl.RetryPolicy()),
        io,
        options=bl.make_options(config),
        clock=bl.MonotonicClock(),
    )
    task = asyncio.create_task(call.run())
    await probe.wait_until(lambda: probe.t_started is not None)
    await asyncio.sleep(0)
    vs = vad.streams[0]
    arrivals = vad.arrivals
    push = call.push_audio
    perf = bl.perf_ns
    frame = bl.speech_frame
    out: dict[str, float] = {}

    transit: list[float] = []
    t_begin = 0
    for i in range(WARMUP_FRAMES + n_frames):
        if i == WARMUP_FRAMES:
            t_begin = perf()
        f = frame()
        fut = vs.expect(len(arrivals) + 1)
        t0 = perf()
        push(f)
        await fut
        if i >= WARMUP_FRAMES:
            transit.append((arrivals[-1] - t0) / 1e6)
    t_end = arrivals[-1]
    d = describe(transit)
    out["isolated.transit_mean_ms"] = d["mean"]
    out["isolated.transit_p50_ms"] = d["p50"]
    out["isolated.transit_p99_ms"] = d["p99"]
    out["isolated.throughput_fps"] = n_frames / ((t_end - t_begin) / 1e9)

    # burst: keep between INGRESS/2 and INGRESS frames queued until all n_frames are pushed
    base = len(arrivals)
    frames = [frame() for _ in range(n_frames)]
    dropped0 = call.dropped_frames
    t_first = perf()
    pushed = 0
    while pushed < n_frames:
        room = INGRESS - (base + pushed - len(arrivals))
        for _ in range(min(room, n_frames - pushed)):
            push(frames[pushed])
            pushed += 1
        if pushed < n_frames:
            await vs.expect(base + pushed - INGRESS // 2)
    await asyncio.wait_for(vs.expect(base + n_frames), 120)
    out["burst.throughput_fps"] = n_frames / ((arrivals[base + n_frames - 1] - t_first) / 1e9)
    out["burst.dropped_frames"] = call.dropped_frames - dropped0

    call.hangup()
    await task
    return out


def main() -> None:
    p = base_arg_parser(__doc__)
    p.set_defaults(config="default", shape="transport")
    p.add_argument("--frames", type=int, default=None, help="frames per run (default 10000, quick 2000)")
    args = p.parse_args()
    runs = runs_for(args)
    n_frames = args.frames or (2000 if args.quick else 10_000)
    gate = gate_from_args(args)
    t_start = time.monotonic()

    per_run: list[dict[str, float]] = []
    others = []
    for r in range(runs):
        gate.wait(f"run {r}")
        meter = NoiseMeter().start()
        res = asyncio.run(one_run(args.config, n_frames))
        others.append(round(meter.stop(), 3))
        per_run.append({f"input_audio.{k}": v for k, v in res.items()})
        log(
            f"A2 callwright/{args.config} run {r}: isolated mean {res['isolated.transit_mean_ms']:.4f} ms, "
            f"burst {res['burst.throughput_fps']:.0f} f/s, dropped {res['burst.dropped_frames']} (others {others[-1]} cores)"
        )

    meta = {
        "runs": runs,
        "frames_per_run": n_frames,
        "warmup_frames": WARMUP_FRAMES,
        "path": "Call.push_audio -> ingress stream -> hear task -> Resampler(16k->16k) -> Endpointer -> VAD stub",
        "burst_window": f"ingress kept between {INGRESS // 2} and {INGRESS} frames (no drops)",
        "frame_types": {"input_audio": "np.int16 array over the shared 640 B speech payload"},
        "not_comparable": "Pipecat A2 is 10 pass-through processors + sink; Callwright has no processor chain",
        "quick": args.quick,
        "noise": {"others_cpu_cores_per_run": others, **gate.record()},
        "elapsed_s": round(time.monotonic() - t_start, 2),
        **bl.framework_meta(),
    }
    emit(make_result(bl.FRAMEWORK, "A2", args.config, "transport", summarize_runs(per_run), meta), args.out)


if __name__ == "__main__":
    main()
