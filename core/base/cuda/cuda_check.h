#pragma once
// MCPP_CUDA_CHECK(call): turns a failed CUDA runtime call into mcpp::Error naming the call, the
// CUDA error and file:line. Plain host code: usable from .cpp and .cu files.
#include <cuda_runtime.h>

#include <string>

#include "core/base/error.h"

namespace mcpp::cuda_detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  throw Error(std::string("CUDA error ") + cudaGetErrorName(status) + " (" +
              cudaGetErrorString(status) + ") in " + call + " at " + file + ":" +
              std::to_string(line));
}

}  // namespace mcpp::cuda_detail

#define MCPP_CUDA_CHECK(call)                                                        \
  do {                                                                               \
    cudaError_t mcpp_cuda_status_ = (call);                                          \
    if (mcpp_cuda_status_ != cudaSuccess)                                            \
      ::mcpp::cuda_detail::throw_cuda_error(mcpp_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launching line.
#define MCPP_CUDA_CHECK_LAUNCH() MCPP_CUDA_CHECK(cudaGetLastError())
