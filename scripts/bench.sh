#!/usr/bin/env bash
# Single-GPU training throughput of megatron-train (issue #4's benchmark set): GPT-2 124M at
# micro-batch 32 and 64 (seq 1024) and bench-llama-0.9b at micro-batch 8 (seq 2048), bf16, no
# dropout, mock data, global batch = micro-batch. Each run logs every 10 iterations; the number
# reported is the LAST interval (warm-up iterations excluded). Prints one table row per case.
#
#   scripts/bench.sh [build dir (default build-gpu)] [iterations (default 30)]
# Environment: BENCH_CASES="gpt2-mb32 gpt2-mb64 llama-mb8" picks cases; EXTRA_FLAGS is appended;
# PROFILE=1 adds a per-op GPU time profile of each case.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-gpu}
ITERS=${2:-30}
BIN="$BUILD_DIR/bin/megatron-train"
[ -x "$BIN" ] || { echo "bench: $BIN not found (build first: scripts/gpu-check.sh)" >&2; exit 1; }
CASES=${BENCH_CASES:-"gpt2-mb32 gpt2-mb64 llama-mb8"}
PEAK=${PEAK_TFLOPS:-989}  # H100 SXM dense bf16
out_dir=${BENCH_OUT:-$BUILD_DIR/bench}
mkdir -p "$out_dir"

common="--device cuda --bf16 --mock-data --train-iters $ITERS --log-interval 10 --eval-iters 0 \
  --attention-dropout 0 --hidden-dropout 0 --lr 3e-4 --min-lr 3e-5 --lr-warmup-iters 2 --weight-decay 0.1 \
  --clip-grad 1.0 --peak-tflops $PEAK --log-throughput ${EXTRA_FLAGS:-}"

flags_of() {
  case "$1" in
    gpt2-mb32) echo "--config gpt2-124m --micro-batch-size 32 --global-batch-size 32" ;;
    gpt2-mb64) echo "--config gpt2-124m --micro-batch-size 64 --global-batch-size 64" ;;
    llama-mb8) echo "--config bench-llama-0.9b --micro-batch-size 8 --global-batch-size 8" ;;
    *) echo "bench: unknown case $1" >&2; return 1 ;;
  esac
}

printf '%-10s %12s %14s %8s %10s %s\n' case "tokens/s" "TFLOP/s/GPU" MFU "mem (GB)" "iteration ms"
status=0
for name in $CASES; do
  log="$out_dir/$name.log"
  # shellcheck disable=SC2046
  if ! "$BIN" $(flags_of "$name") $common >"$log" 2>&1; then
    printf '%-10s %s\n' "$name" "FAILED: $(grep -m1 -iE 'error|what' "$log" || tail -1 "$log")"
    status=1
    continue
  fi
  line=$(grep "iteration *$ITERS/" "$log" | tail -1)
  field() { sed -nE "s/.*$1: *([0-9.]+).*/\1/p" <<<"$line"; }
  printf '%-10s %12s %14s %8s %10s %s\n' "$name" "$(field 'tokens\/s')" \
    "$(field 'throughput per GPU \(TFLOP\/s\/GPU\)')" "$(field 'MFU')%" "$(field 'mem \(GB\)')" \
    "$(field 'elapsed time per iteration \(ms\)')"
done
# PROFILE=1: each case again for 8 iterations with MCPP_PROFILE=1 (GPU time per op; separate
# runs, so the events do not disturb the timings above).
if [ "${PROFILE:-0}" = 1 ]; then
  for name in $CASES; do
    prof="$out_dir/$name.profile"
    # shellcheck disable=SC2046
    MCPP_PROFILE=1 "$BIN" $(flags_of "$name") ${common/--train-iters $ITERS/--train-iters 8} >"$prof" 2>&1
    echo
    echo "== $name: GPU time per op over iterations 3-8 (top 16; full table in $prof)"
    sed -n '/^GPU time per op/,$p' "$prof" | sed -n '2,18p'
    grep -E '^sum' "$prof"
    grep "iteration *8/" "$prof" | sed -E 's/.*(elapsed time per iteration \(ms\): [0-9.]+).*/  wall: \1 (iterations 5-8)/'
  done
fi
exit $status
