#include "parallel/cuda/local_device.h"

#include <cuda_runtime.h>

#include "core/base/cuda/cuda_check.h"
#include "parallel/local_rank.h"

namespace mcpp::parallel {

int use_local_cuda_device(MPI_Comm world) {
  const int local_rank = node_local_rank(world);
  int count = 0;
  // No driver or no device reads as zero devices, which device_for_local_rank reports.
  if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
  const int device = device_for_local_rank(local_rank, count);
  MCPP_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace mcpp::parallel
