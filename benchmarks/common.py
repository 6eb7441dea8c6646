"""Framework-neutral helpers shared by the Callwright and Pipecat benchmark scripts.

Nothing here imports a voice framework. psutil is imported lazily, so a script that
only needs the statistics can import this module without it.

Result shape (one JSON object per script invocation)::

    {"framework": "pipecat" | "callwright", "scenario": "A1" | "A2" | "B" | "C" | "D",
     "config": "lean" | "default", "shape": "bare" | "transport",
     "metrics": {name: {"min": x, "median": y, "max": z}, ...},
     "meta": {...}}

``metrics`` values are min / median / max over runs of a per-run statistic; a metric
measured once (e.g. the max passing level of a B sweep) has min == median == max.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """q in [0, 100], linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * (q / 100.0)
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(xs[lo])
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def describe(values: Sequence[float]) -> dict[str, float]:
    """Distribution of one run's samples: n, mean, p50, p90, p99, max, min."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "min": float(min(values)),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": float(max(values)),
    }


def summary(values: Iterable[float], ndigits: int = 4) -> dict[str, float | None]:
    """min / median / max over runs (NaN and None skipped)."""
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not xs:
        return {"min": None, "median": None, "max": None}
    return {
        "min": round(min(xs), ndigits),
        "median": round(statistics.median(xs), ndigits),
        "max": round(max(xs), ndigits),
    }


def summarize_runs(runs: Sequence[dict[str, float]], ndigits: int = 4) -> dict[str, dict[str, float | None]]:
    """[{metric: value}, ...] per run -> {metric: {min, median, max}} (metric order kept)."""
    names: list[str] = []
    for r in runs:
        for k in r:
            if k not in names:
                names.append(k)
    return {k: summary([r.get(k) for r in runs], ndigits) for k in names}


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope dy/dx."""
    n = len(xs)
    if n < 2:
        return float("nan")
    mx = statistics.fmean(xs)
    my = statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def ns_to_ms(ns: float) -> float:
    return ns / 1e6


# --------------------------------------------------------------------------------------
# process / machine
# --------------------------------------------------------------------------------------


def rss_bytes(pid: int | None = None) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def rss_mb(pid: int | None = None) -> float:
    return rss_bytes(pid) / (1024 * 1024)


def pin_to_last_cpu() -> int:
    """Pin this process to the highest-numbered CPU it may run on; returns it."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1]
    os.sched_setaffinity(0, {cpu})
    return cpu


def cpu_seconds_self() -> float:
    t = os.times()
    return t.user + t.system


def interpreter_calibration_us() -> float:
    """Best-of-3 time of a fixed pure-Python snippet, in microseconds.

    Interpreter builds differ a lot here (e.g. a non-PGO pyenv CPython 3.11 vs Debian's
    PGO/LTO one: ~1.5x), so results from different interpreters or machines are only
    comparable after looking at this number.
    """
    import timeit

    t = timeit.Timer("sum([i * 2 for i in range(200)])")
    return round(min(t.repeat(repeat=3, number=2000)) / 2000 * 1e6, 3)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "executable": os.path.realpath(sys.executable),
        "interp_calibration_us": interpreter_calibration_us(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "loop": "asyncio",
    }
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def _own_tree_cpu_seconds() -> float:
    """CPU seconds of this process, its reaped children and its live descendants."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    try:
        for child in me.children(recursive=True):
            try:
                ct = child.cpu_times()
                total += ct.user + ct.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def _system_busy_seconds() -> float:
    import psutil

    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    return sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


class NoiseMeter:
    """CPU used by *other* processes (in cores) between start() and stop().

    others = (system busy CPU seconds - this process tree's CPU seconds) / wall seconds.
    Cheap: two /proc reads per sample, no per-process scan.
    """

    def __init__(self) -> None:
        self._t0 = 0.0
        self._busy0 = 0.0
        self._own0 = 0.0

    def start(self) -> NoiseMeter:
        self._t0 = time.monotonic()
        self._busy0 = _system_busy_seconds()
        self._own0 = _own_tree_cpu_seconds()
        return self

    def stop(self) -> float:
        wall = time.monotonic() - self._t0
        if wall <= 0:
            return 0.0
        busy = _system_busy_seconds() - self._busy0
        own = _own_tree_cpu_seconds() - self._own0
        return max(0.0, (busy - own) / wall)


def others_cpu_cores(sample_s: float = 0.5) -> float:
    m = NoiseMeter().start()
    time.sleep(sample_s)
    return m.stop()


def top_other_processes(n: int = 3, sample_s: float = 0.3) -> list[dict[str, Any]]:
    """The n other processes using the most CPU right now (for the noise record)."""
    import psutil

    me = os.getpid()
    procs = []
    for p in psutil.process_iter(["pid", "name"]):
        if p.info["pid"] == me:
            continue
        try:
            p.cpu_percent(None)
            procs.append(p)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    out = []
    for p in procs:
        try:
            out.append({"pid": p.info["pid"], "name": p.info["name"], "cpu_pct": p.cpu_percent(None)})
        except psutil.Error:
            pass
    out.sort(key=lambda d: d["cpu_pct"], reverse=True)
    return [d for d in out[:n] if d["cpu_pct"] > 0]


class QuietGate:
    """Wait until other processes use less than `threshold` cores, within a bounded budget.

    Each wait() samples others' CPU every `sample_s` until it is below the threshold or the
    wait would exceed `max_wait_s`; the total time spent waiting across all calls is capped
    by `budget_s` (after that, wait() only takes one sample and proceeds). Every call is
    recorded, so a noisy result says so in its JSON (`meta.noise`).
    """

    def __init__(
        self,
        threshold: float = 0.25,
        max_wait_s: float = 30.0,
        budget_s: float | None = None,
        sample_s: float = 0.5,
        enabled: bool = True,
    ) -> None:
        self.threshold = threshold
        self.max_wait_s = max_wait_s
        self.budget_s = max_wait_s if budget_s is None else budget_s
        self.sample_s = sample_s
        self.enabled = enabled
        self.spent_s = 0.0
        self.calls: list[dict[str, Any]] = []

    def wait(self, label: str = "") -> dict[str, Any]:
        if not self.enabled:
            rec = {"label": label, "quiet": None, "waited_s": 0.0, "others_cpu_cores": None}
            self.calls.append(rec)
            return rec
        t0 = time.monotonic()
        allowed = max(0.0, min(self.max_wait_s, self.budget_s - self.spent_s))
        samples = []
        while True:
            cores = others_cpu_cores(self.sample_s)
            samples.append(cores)
            waited = time.monotonic() - t0
            if cores < self.threshold or waited >= allowed:
                break
        waited = time.monotonic() - t0
        # the first sample is part of every run's cost, not "waiting"
        self.spent_s += max(0.0, waited - self.sample_s)
        rec: dict[str, Any] = {
            "label": label,
            "quiet": samples[-1] < self.threshold,
            "waited_s": round(waited, 2),
            "others_cpu_cores": round(samples[-1], 3),
        }
        if not rec["quiet"]:
            try:
                rec["top_others"] = top_other_processes()
            except Exception:
                pass
        self.calls.append(rec)
        return rec

    def record(self) -> dict[str, Any]:
        gated = [c for c in self.calls if c["quiet"] is not None]
        return {
            "gate_threshold_cores": self.threshold,
            "gate_max_wait_s": self.max_wait_s,
            "gate_waited_s": round(sum(c["waited_s"] for c in self.calls), 2),
            "gate_not_quiet": sum(1 for c in gated if not c["quiet"]),
            "gate_calls": len(self.calls),
            "gate_max_others_cpu_cores": max((c["others_cpu_cores"] for c in gated), default=None),
            "not_quiet_details": [c for c in gated if not c["quiet"]][:5],
        }


# --------------------------------------------------------------------------------------
# CLI and output
# --------------------------------------------------------------------------------------


def base_arg_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer runs/turns and shorter windows")
    p.add_argument("--runs", type=int, default=None, help="number of runs (default: 5, quick: 3)")
    p.add_argument("--config", choices=["lean", "default"], default="lean", help="worker configuration")
    p.add_argument("--shape", choices=["bare", "transport"], default="bare", help="pipeline shape")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--gate-threshold", type=float, default=0.25, help="others' CPU (cores) counted as quiet")
    p.add_argument(
        "--gate-max-wait", type=float, default=None, help="max total seconds to wait for a quiet machine (30; quick 10)"
    )
    p.add_argument("--no-gate", action="store_true", help="do not wait for a quiet machine")
    return p


def runs_for(args: argparse.Namespace, full: int = 5, quick: int = 3) -> int:
    if args.runs is not None:
        return max(1, args.runs)
    return quick if args.quick else full


def gate_from_args(args: argparse.Namespace) -> QuietGate:
    max_wait = args.gate_max_wait if args.gate_max_wait is not None else (10.0 if args.quick else 30.0)
    return QuietGate(threshold=args.gate_threshold, max_wait_s=max_wait, budget_s=max_wait, enabled=not args.no_gate)


def make_result(
    framework: str,
    scenario: str,
    config: str,
    shape: str,
    metrics: dict[str, dict[str, float | None]],
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    m = {"machine": machine_info()}
    m.update(meta or {})
    return {
        "framework": framework,
        "scenario": scenario,
        "config": config,
        "shape": shape,
        "metrics": metrics,
        "meta": m,
    }


def _jsonable(o: Any) -> Any:
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, Path):
        return str(o)
    return o


def emit(result: dict[str, Any], out: Path | None = None) -> None:
    """Print the result as one JSON object on stdout (and write it to `out` if given)."""
    text = json.dumps(_jsonable(result), indent=None, separators=(",", ":"))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_jsonable(result), indent=1) + "\n")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    """Progress to stderr (stdout carries only the JSON)."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()
