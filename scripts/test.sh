#!/usr/bin/env bash
# The test command: install dependencies, build, run every CPU test. Prints the time of each stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export MEGATRON_TEST_DATA=${MEGATRON_TEST_DATA:-$(cd .. && pwd)/shared/data}
# mpirun as root (CI containers) needs these two.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Tests run two at a time on small models: one thread each keeps OpenMP from spinning against
# itself (tests that need several threads ask for them explicitly).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

stage() { echo "== $1: $(( $(date +%s) - stage_start ))s"; stage_start=$(date +%s); }
stage_start=$(date +%s); all_start=$stage_start

bash scripts/setup.sh
stage "setup"
bash scripts/build.sh
stage "build"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 -L cpu -j "${CTEST_JOBS:-2}"
stage "tests"
echo "== total: $(( $(date +%s) - all_start ))s"
