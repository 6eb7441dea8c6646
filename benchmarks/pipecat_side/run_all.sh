#!/usr/bin/env bash
# Run the Pipecat side of the side-by-side benchmark and write one JSON per case to
# benchmarks/results/pipecat/<scenario>_<config>_<shape>[_variant].json.
#
#   benchmarks/pipecat_side/run_all.sh --quick        # ~3-4 min: bare shape, lean + default
#   benchmarks/pipecat_side/run_all.sh                # full spec (~45+ min), adds transport
#                                                     # shape and the A1 metrics/TTFB rows
# Extra arguments are passed to every script (e.g. --gate-max-wait 5, --runs 2, --no-gate).
# A1/A2/C/D run pinned with taskset to CPU $BENCH_CPU (default: the last CPU); B pins each of
# its fresh processes to the last CPU itself.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
bash "$BENCH/setup_pipecat.sh"
PY="$BENCH/.venv-pipecat/bin/python"
OUT="${BENCH_OUT:-$BENCH/results/pipecat}"
mkdir -p "$OUT"
CPU="${BENCH_CPU:-$(( $(nproc) - 1 ))}"
QUICK=0
for a in "$@"; do [ "$a" = "--quick" ] && QUICK=1; done

run() {  # name script args...
  local name="$1"; shift
  local t0=$SECONDS
  echo "== $name" >&2
  taskset -c "$CPU" "$PY" "$HERE/$1" "${@:2}" "${EXTRA[@]}" --out "$OUT/$name.json" > /dev/null
  echo "   $name: $((SECONDS - t0)) s" >&2
}
EXTRA=("$@")
T0=$SECONDS
for cfg in lean default; do
  run "A1_${cfg}_bare" bench_turn.py --config "$cfg" --shape bare
  run "A2_${cfg}_bare" bench_chain.py --config "$cfg"
  run "C_${cfg}_bare" bench_interrupt.py --config "$cfg" --shape bare
  run "D_${cfg}_bare" bench_startup.py --config "$cfg" --shape bare
done
if [ "$QUICK" = 0 ]; then
  for cfg in lean default; do
    run "A1_${cfg}_transport" bench_turn.py --config "$cfg" --shape transport
    run "C_${cfg}_transport" bench_interrupt.py --config "$cfg" --shape transport
  done
  run "A1_default_bare_metrics" bench_turn.py --config default --shape bare --metrics
  run "A1_default_bare_metrics_ttfb100" bench_turn.py --config default --shape bare --metrics --llm-ttfb 0.1
  run "D_default_transport" bench_startup.py --config default --shape transport
fi
for cfg in lean default; do
  # B pins its own fresh processes (sched_setaffinity); the parent is not pinned.
  t0=$SECONDS; echo "== B_${cfg}_bare" >&2
  "$PY" "$HERE/bench_concurrency.py" --sweep --config "$cfg" --shape bare "${EXTRA[@]}" --out "$OUT/B_${cfg}_bare.json" > /dev/null
  echo "   B_${cfg}_bare: $((SECONDS - t0)) s" >&2
done
if [ "$QUICK" = 0 ]; then
  "$PY" "$HERE/bench_concurrency.py" --sweep --config default --shape transport "${EXTRA[@]}" --out "$OUT/B_default_transport.json" > /dev/null
fi
echo "pipecat side done in $((SECONDS - T0)) s; results in $OUT" >&2
