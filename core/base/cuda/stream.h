#pragma once
// The one CUDA stream every kernel, copy and library call is issued on (for now: the legacy
// default stream, so host code that reads results after a synchronous copy sees them).
#include <cuda_runtime.h>

namespace mcpp {

inline cudaStream_t current_stream() { return cudaStreamLegacy; }

}  // namespace mcpp
