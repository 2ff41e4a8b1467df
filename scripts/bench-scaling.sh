#!/usr/bin/env bash
# Data-parallel weak scaling of megatron-train on the GPUs of one machine: the same per-GPU
# micro-batch on 1, 2, 4, ... GPUs (global batch = micro-batch × GPUs), bf16, mock data,
# --use-distributed-optimizer --overlap-grad-reduce under mpirun. Prints tokens/s per GPU and
# the per-GPU efficiency against 1 GPU (last logging interval of each run; warm-up excluded).
#
#   scripts/bench-scaling.sh [build dir (default build-gpu)] [model: gpt2|llama (default gpt2)]
#
# ITERS (default 30) sets the iterations per run; EXTRA_FLAGS is appended to every run's flags
# (e.g. EXTRA_FLAGS=--overlap-param-gather).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-gpu}
MODEL=${2:-gpt2}
ITERS=${ITERS:-30}
EXTRA_FLAGS=${EXTRA_FLAGS:-}
BIN="$BUILD_DIR/bin/megatron-train"
[ -x "$BIN" ] || { echo "bench-scaling: $BIN not found" >&2; exit 1; }
gpus=$(nvidia-smi -L | wc -l)
case "$MODEL" in
  gpt2) model="--config gpt2-124m"; mbs=32 ;;
  llama) model="--config bench-llama-0.9b"; mbs=8 ;;
  *) echo "bench-scaling: model gpt2 or llama" >&2; exit 2 ;;
esac
export NCCL_NVLS_ENABLE=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out_dir="$BUILD_DIR/bench"
mkdir -p "$out_dir"
printf '%-6s %14s %10s\n' GPUs "tokens/s/GPU" efficiency
base=""
for n in 1 2 4 8; do
  [ "$n" -le "$gpus" ] || break
  log="$out_dir/scaling-$MODEL-$n.log"
  # shellcheck disable=SC2086
  mpirun --bind-to none -np "$n" "$BIN" $model --device cuda --bf16 --mock-data --micro-batch-size $mbs \
    --global-batch-size $((mbs * n)) --train-iters "$ITERS" --log-interval 10 --eval-iters 0 \
    --attention-dropout 0 --hidden-dropout 0 --lr 3e-4 --min-lr 3e-5 --lr-warmup-iters 2 --weight-decay 0.1 \
    --clip-grad 1.0 --use-distributed-optimizer --overlap-grad-reduce $EXTRA_FLAGS >"$log" 2>&1 ||
    { echo "$n GPUs: FAILED (see $log)"; tail -3 "$log"; continue; }
  tokens=$(grep "iteration *$ITERS/" "$log" | tail -1 | sed -nE 's/.*tokens\/s: *([0-9.]+).*/\1/p')
  per_gpu=$(awk -v t="$tokens" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
  [ -z "$base" ] && base=$per_gpu
  printf '%-6s %14s %9.1f%%\n' "$n" "$per_gpu" "$(awk -v a="$per_gpu" -v b="$base" 'BEGIN { print 100 * a / b }')"
done
