#pragma once
// Binds this process to its GPU (CUDA builds): device_for_local_rank(node_local_rank(world),
// number of visible devices), made current with cudaSetDevice. Call it before any CUDA work and
// before building CUDA process groups (NCCL communicators join on the current device).
#include <mpi.h>

namespace mcpp::parallel {

// Collective over `world`; returns the device index.
int use_local_cuda_device(MPI_Comm world);

}  // namespace mcpp::parallel
