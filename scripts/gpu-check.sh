#!/usr/bin/env bash
# Builds the CUDA backend (Release, into build-gpu/ or $BUILD_DIR) and runs the GPU tests
# (ctest label `gpu`) and the throughput benchmark (scripts/bench.sh; BENCH=0 skips it), then
# prints a summary: tests passed/failed, GPU, CUDA and cuDNN versions, the benchmark table.
# When device/prefix exists (made by scripts/device-bundle.sh on a development machine), the
# header libraries and small shared libraries are taken from there.
# TEST_REGEX / TEST_EXCLUDE select tests (ctest -R / -E). On a 4-GPU machine the whole suite takes
# about 10 minutes; split it over two commands, e.g. TEST_EXCLUDE='^gpu_train_mpi4:' then
# TEST_REGEX='^gpu_train_mpi4:' (the second reuses build-gpu/ while the machine stays warm).
# Exit status: 0 when everything built and every GPU test passed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-16}

configure_args=(-DCMAKE_BUILD_TYPE=Release -DMCPP_ENABLE_CUDA=ON)
[ -d device/prefix ] && configure_args+=("-DCMAKE_PREFIX_PATH=$PWD/device/prefix")
command -v ninja >/dev/null 2>&1 && configure_args+=(-G Ninja)
[ -f "$BUILD_DIR/CMakeCache.txt" ] && configure_args=(-DCMAKE_BUILD_TYPE=Release)

# Test data: ../shared/data beside the checkout, else the copy scripts/device-bundle.sh made.
if [ -z "${MEGATRON_TEST_DATA:-}" ] && [ ! -d ../shared/data ] && [ -d device/data ]; then
  export MEGATRON_TEST_DATA=$PWD/device/data
fi

mkdir -p "$BUILD_DIR"
log="$BUILD_DIR/gpu-check.log"
status=ok
if ! cmake -S . -B "$BUILD_DIR" "${configure_args[@]}" 2>&1 | tee "$BUILD_DIR/configure.log"; then
  status="configure failed"
elif ! grep -q "CUDA backend ON" "$BUILD_DIR/configure.log"; then
  status="configure did not enable CUDA"
else
  if ! cmake --build "$BUILD_DIR" -j "$JOBS"; then status="build failed"; fi
fi

passed=0 failed=0 total=0
if [ "$status" = ok ] && [ "${TESTS:-1}" = 0 ]; then
  echo "gpu-check: TESTS=0, GPU tests skipped" > "$log"
  status="tests skipped (TESTS=0)"
elif [ "$status" = ok ]; then
  # Multi-GPU tests need at least 2 GPUs (gpu_parallel, gpu_train_mpi) or 4 (gpu_train_mpi4).
  gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
  exclude=()
  if [ "${gpus:-0}" -lt 2 ]; then
    exclude=(-E '^(gpu_parallel|gpu_train_mpi|gpu_train_mpi4):')
    multi_gpu_note="multi-GPU tests not run (${gpus:-0} GPU)"
  elif [ "${gpus:-0}" -lt 4 ]; then
    exclude=(-E '^gpu_train_mpi4:')
    multi_gpu_note="4-GPU tests not run (${gpus:-0} GPUs)"
  fi
  # TEST_REGEX narrows the run to matching tests (ctest -R); TEST_EXCLUDE leaves matching tests
  # out (ctest -E), e.g. to split the suite over two commands of a time-limited machine.
  if [ -n "${TEST_EXCLUDE:-}" ]; then
    if [ ${#exclude[@]} -gt 0 ]; then exclude=(-E "${exclude[1]}|$TEST_EXCLUDE"); else exclude=(-E "$TEST_EXCLUDE"); fi
  fi
  NCCL_NVLS_ENABLE=0 ctest --test-dir "$BUILD_DIR" -L gpu "${exclude[@]}" ${TEST_REGEX:+-R "$TEST_REGEX"} \
    --output-on-failure 2>&1 | tee "$log"
  # ctest ends with "100% tests passed out of N" or "P% tests passed, F tests failed out of N".
  summary_line=$(grep -E "tests passed.* out of [0-9]+" "$log" | tail -1)
  if [ -n "$summary_line" ]; then
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary_line")
    failed=0
    if grep -qE "[0-9]+ tests? failed" <<<"$summary_line"; then
      failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$summary_line")
    fi
    passed=$((total - failed))
  else
    status="no GPU tests ran"
  fi
  [ "$failed" != 0 ] && status="$failed GPU test(s) failed"
fi

bench_table=""
if { [ "$status" = ok ] || [ "$status" = "tests skipped (TESTS=0)" ]; } && [ "${BENCH:-1}" != 0 ]; then
  bench_table=$(bash scripts/bench.sh "$BUILD_DIR" "${BENCH_ITERS:-30}" 2>&1) || status="benchmark failed"
  echo "$bench_table"
fi

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
cuda=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || /usr/local/cuda/bin/nvcc --version 2>/dev/null | grep -o 'release [0-9.]*')
cudnn=$(ls /usr/lib/x86_64-linux-gnu/libcudnn.so.9.* /usr/local/cuda/lib64/libcudnn.so.9.* 2>/dev/null |
        sed -E 's/.*libcudnn\.so\.//' | sort -V | tail -1)

echo
echo "================ GPU check summary ================"
printf '%-14s %s\n' "result" "$status"
printf '%-14s %s passed, %s failed, %s total (ctest -L gpu)\n' "tests" "$passed" "$failed" "$total"
if [ -f "$log" ]; then
  grep -E "^\s*[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Exception|Subprocess aborted).*\)" "$log" |
    sed 's/^/  failed: /'
fi
[ -n "${multi_gpu_note:-}" ] && printf '%-14s %s\n' "note" "$multi_gpu_note"
printf '%-14s %s\n' "GPU" "${gpu:-none found (nvidia-smi)}"
printf '%-14s %s\n' "CUDA" "${cuda:-unknown}"
printf '%-14s %s\n' "cuDNN" "${cudnn:-not found}"
printf '%-14s %s\n' "build dir" "$BUILD_DIR"
if [ -n "$bench_table" ]; then
  echo "benchmark (scripts/bench.sh, last logging interval):"
  sed 's/^/  /' <<<"$bench_table"
fi
echo "==================================================="
[ "$status" = ok ]
