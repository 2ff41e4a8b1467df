#!/usr/bin/env bash
# Data-parallel weak scaling of megatron-train on the GPUs of one machine: the same per-GPU
# micro-batch on 1, 2, 4, ... GPUs (global batch = micro-batch × GPUs), bf16, mock data,
# --use-distributed-optimizer --overlap-grad-reduce under mpirun. Prints tokens/s per GPU and
# the per-GPU efficiency against 1 GPU (last logging interval of each run; warm-up excluded).
#
#   scripts/bench-scaling.sh [build dir (default build-gpu)] [model: gpt2|llama (default gpt2)]
#
# ITERS (default 50) sets the iterations per run (iteration times rise and settle after about a
# second of load, on 1 GPU as on 4: the last interval of 50 iterations is past that transient);
# EXTRA_FLAGS is appended to every run's flags (e.g. EXTRA_FLAGS=--overlap-param-gather);
# MAX_GPUS caps the GPU counts tried; MICRO_BATCHES (default 1) sets the micro-batches per GPU per step (gradient accumulation: global batch =
# micro-batch × MICRO_BATCHES × GPUs); REPEAT (default 1) runs every GPU count that many times,
# alternating, and reports the median (machine noise is a few percent between runs); GPU_COUNTS
# (e.g. "1 4") picks the GPU counts instead of every power of two up to MAX_GPUS.
# Diagnostics of the lost efficiency:
#   PROFILE=1      each GPU count again with MCPP_PROFILE=1 on every rank, for PROFILE_WARMUP
#                  (default 2) iterations left out and 10 timed: rank 0's GPU time per op over
#                  the timed iterations (PROFILE_WARMUP=40 times the steady state), including
#                  the compute stream's waits on NCCL ("wait: nccl ...": what the overlap did
#                  not hide), the stream time between ops by the op that follows (GPU idle:
#                  host syncs); then for
#                  every rank its busy time, gaps and NCCL waits per step (a rank that waits
#                  less than the others is the one they wait for), and rank 0's twelve largest
#                  per-op changes against 1 GPU.
#   INDEPENDENT=1  n separate 1-GPU runs side by side on n GPUs (no communication at all): what
#                  sharing the machine alone costs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD_DIR=${1:-build-gpu}
MODEL=${2:-gpt2}
ITERS=${ITERS:-50}
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
max_gpus=${MAX_GPUS:-$gpus}
flags_of_run() {  # the run's flags on $1 GPUs
  echo "$model --device cuda --bf16 --mock-data --micro-batch-size $mbs --global-batch-size $((mbs * ${MICRO_BATCHES:-1} * $1)) \
    --log-interval 10 --eval-iters 0 --attention-dropout 0 --hidden-dropout 0 --lr 3e-4 --min-lr 3e-5 \
    --lr-warmup-iters 2 --weight-decay 0.1 --clip-grad 1.0 --use-distributed-optimizer --overlap-grad-reduce \
    $EXTRA_FLAGS"
}
tokens_of() { grep "iteration *$2/" "$1" | tail -1 | sed -nE 's/.*tokens\/s: *([0-9.]+).*/\1/p'; }
counts=()
for n in ${GPU_COUNTS:-1 2 4 8}; do
  [ "$n" -le "$gpus" ] && [ "$n" -le "$max_gpus" ] || break
  counts+=("$n")
done
declare -A samples  # GPU count -> tokens/s of each repetition
for ((r = 1; r <= ${REPEAT:-1}; ++r)); do
  for n in "${counts[@]}"; do
    log="$out_dir/scaling-$MODEL-$n-$r.log"
    # shellcheck disable=SC2046
    if mpirun --bind-to none -np "$n" "$BIN" $(flags_of_run "$n") --train-iters "$ITERS" >"$log" 2>&1; then
      samples[$n]+="$(tokens_of "$log" "$ITERS") "
    else
      echo "$n GPUs: FAILED (see $log)"
      tail -3 "$log"
    fi
  done
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for n in "${counts[@]}"; do
  tokens=$(median "${samples[$n]:-}")
  [ -n "$tokens" ] || continue
  per_gpu=$(awk -v t="$tokens" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
  [ -z "$base" ] && base=$per_gpu
  printf '%-6s %14s %9.1f%%\n' "$n" "$per_gpu" "$(awk -v a="$per_gpu" -v b="$base" 'BEGIN { print 100 * a / b }')"
done

if [ "${INDEPENDENT:-0}" = 1 ]; then
  echo
  echo "independent 1-GPU runs side by side (no communication):"
  for n in 2 4 8; do
    [ "$n" -le "$gpus" ] && [ "$n" -le "$max_gpus" ] || break
    pids=()
    for ((g = 0; g < n; ++g)); do
      # shellcheck disable=SC2046
      CUDA_VISIBLE_DEVICES=$g "$BIN" $(flags_of_run 1) --train-iters "$ITERS" >"$out_dir/independent-$MODEL-$n-$g.log" 2>&1 &
      pids+=($!)
    done
    wait "${pids[@]}"
    sum=0
    for ((g = 0; g < n; ++g)); do
      sum=$(awk -v a="$sum" -v b="$(tokens_of "$out_dir/independent-$MODEL-$n-$g.log" "$ITERS")" 'BEGIN { print a + b }')
    done
    per_gpu=$(awk -v t="$sum" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
    printf '%-6s %14s %9.1f%%\n' "${n}x1" "$per_gpu" "$(awk -v a="$per_gpu" -v b="$base" 'BEGIN { print 100 * a / b }')"
  done
fi

if [ "${PROFILE:-0}" = 1 ]; then
  profile_warmup=${PROFILE_WARMUP:-2}
  export MCPP_PROFILE_WARMUP=$profile_warmup
  # Every rank profiles (so the event overhead is the same on all, and no rank is the slowest
  # because of it), each into its own file.
  per_step() {  # prints the profile file's per-step ms of: busy GPU time, gaps, and the NCCL waits
    awk '/^GPU time per op/ { t = 1; next } /^stream time between ops/ { t = 2; next }
         t == 1 && /^sum / { busy = $2 } t == 2 && /^sum / { gaps = $2 }
         t == 1 && /^wait: nccl reduce_scatter / { rs = $(NF - 2) } t == 1 && /^wait: nccl all_gather / { ag = $(NF - 2) }
         t == 1 && /^wait: nccl all_reduce / { ar = $(NF - 2) } t == 1 && /^wait: nccl reduce / { rd = $(NF - 2) }
         END { printf "busy %6.2f  gaps %5.2f  waits: reduce_scatter %5.2f  reduce %5.2f  all_gather %5.2f  all_reduce %5.2f\n",
                      busy / 10, gaps / 10, rs / 10, rd / 10, ag / 10, ar / 10 }' "$1"
  }
  op_times() {  # "op<TAB>ms" for every row of the profile file's first table
    awk '/^GPU time per op/ { t = 1; next } t && /^op / { next } t && /^sum / { exit }
         t && NF >= 5 { name = $1; for (i = 2; i <= NF - 4; ++i) name = name " " $i; print name "\t" $(NF - 2) }' "$1"
  }
  op_changes() {  # ms per step of each op in profile $2 minus profile $1, the 12 largest changes
    awk -F'\t' 'NR == FNR { base[$1] = $2; next } { change[$1] = $2 - base[$1]; seen[$1] = 1 }
         END { for (op in base) if (!(op in seen)) change[op] = -base[op]
               for (op in change) { d = change[op] / 10; printf "%.4f\t%-34s %+8.2f\n", (d < 0 ? -d : d), op, d } }' \
      <(op_times "$1") <(op_times "$2") | sort -gr | head -12 | cut -f2
  }
  for n in "${counts[@]}"; do
    prof="$out_dir/scaling-$MODEL-$n.profile"
    # shellcheck disable=SC2046,SC2016
    mpirun --bind-to none -np "$n" bash -c 'export MCPP_PROFILE=1; exec "$@" 2>"$0.$OMPI_COMM_WORLD_RANK"' "$prof" \
      "$BIN" $(flags_of_run "$n") --train-iters $((profile_warmup + 10)) >"$prof" 2>&1
    echo
    echo "== $n GPUs, rank 0: GPU time per op over iterations $((profile_warmup + 1))-$((profile_warmup + 10)) (top 24)"
    sed -n '/^GPU time per op/,/^sum /p' "$prof.0" | sed -n '2,25p'
    sed -n '/^GPU time per op/,/^sum /p' "$prof.0" | grep -E '^(wait: |sum )'
    sed -n '/^stream time between ops/,/^sum /p' "$prof.0"
    echo "-- per step (ms), every rank:"
    for ((rank = 0; rank < n; ++rank)); do echo "rank $rank: $(per_step "$prof.$rank")"; done
    if [ "$n" -gt 1 ]; then
      echo "-- rank 0's largest changes against 1 GPU (ms per step, every op):"
      op_changes "$out_dir/scaling-$MODEL-1.profile.0" "$prof.0"
    fi
  done
fi
