#pragma once
// MCPP_HOST_DEVICE marks small inline functions (dtype conversions, Philox) that must compile
// both for the host and inside CUDA kernels. For the host compiler it expands to nothing.
#if defined(__CUDACC__)
#define MCPP_HOST_DEVICE __host__ __device__
#else
#define MCPP_HOST_DEVICE
#endif
