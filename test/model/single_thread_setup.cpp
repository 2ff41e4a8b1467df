// The model tests run thousands of forward passes over tensors of a few hundred elements. The
// CPU kernels open an OpenMP region per op, which buys nothing at this size and, on a loaded
// machine, costs up to a scheduler timeslice per region barrier (minutes instead of seconds).
// These tests check numerics, not threading, so they run the kernels on one thread.
#include <omp.h>

namespace {
const bool single_threaded = [] {
  omp_set_num_threads(1);
  return true;
}();
}  // namespace
