#pragma once
// Shared pieces of the CUDA kernels: fp32 <-> storage conversions, block reductions, launch
// sizes, dtype dispatch and argument checks.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"
#include "core/base/dtype.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::gpu {

using cpu::require;
using cpu::require_numel;
using cpu::require_optional;
using cpu::require_shape;
using cpu::rows_of;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return bf16_to_float(v); }
// fp16 through the hardware conversions: the same round-to-nearest-even as float_to_f16.
__device__ __forceinline__ float to_float(f16 v) { return __half2float(__ushort_as_half(v.bits)); }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16 from_float<bf16>(float v) { return float_to_bf16(v); }
template <> __device__ __forceinline__ f16 from_float<f16>(float v) {
  return f16{__half_as_ushort(__float2half_rn(v))};
}

// Sum / max over a whole block (blockDim.x a multiple of 32, at most 1024). Every thread gets the
// result. Fixed reduction tree: deterministic.
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
template <typename T>  // float, or double for long sums (sum_of_squares)
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T partial[32];
  v = warp_sum(v);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : T(0);
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v) {
  __shared__ float partial[32];
  v = warp_max(v);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : -INFINITY;
  return warp_max(v);
}

// 16 bytes of elements (8 bf16/fp16 or 4 fp32) moved by one load or store: memory-bound kernels use
// these when rows are multiples of kSize (and so 16-byte aligned: buffers are 256-byte aligned).
template <typename T>
struct Pack16 {
  static constexpr int kSize = 16 / sizeof(T);
  uint4 bits;
  __device__ float get(int i) const { return to_float(reinterpret_cast<const T*>(&bits)[i]); }
  __device__ void set(int i, float v) { reinterpret_cast<T*>(&bits)[i] = from_float<T>(v); }
};

// for (i over [0, n)) spread over the whole grid.
#define MCPP_GRID_STRIDE(i, n)                                                \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// Grid-stride loop bound: enough blocks of 256 to fill the GPU, capped.
inline unsigned elementwise_blocks(int64_t n) {
  int64_t blocks = (n + 255) / 256;
  if (blocks > 65535) blocks = 65535;
  return unsigned(blocks > 0 ? blocks : 1);
}

// The activation dtype of an op: F32, BF16 or F16, the same for every listed tensor.
inline DType activation_dtype(const char* op, std::initializer_list<const Tensor*> tensors) {
  DType dtype = DType::F32;
  bool found = false;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!found) {
      dtype = t->dtype();
      found = true;
    }
    check(t->dtype() == dtype, std::string(op) + ": tensors mix dtypes (" + t->describe() +
                                   " vs " + dtype_name(dtype) + ")");
  }
  check(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16,
        std::string(op) + ": CUDA kernels take f32, bf16 or f16 tensors, got " + dtype_name(dtype));
  return dtype;
}

template <typename T>
const T* cptr(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <typename T>
T* mptr(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// Calls body(T{}) with T = float, bf16 or f16 for `dtype` (one of those, see activation_dtype).
template <typename Body>
void dispatch_float(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::F32: body(float{}); break;
    case DType::BF16: body(bf16{}); break;
    default: body(f16{}); break;
  }
}

}  // namespace mcpp::core::gpu
