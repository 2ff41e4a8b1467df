#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"
#include "core/base/cuda/tensor_cuda.h"

namespace mcpp::cuda_detail {

namespace {

template <typename T>
__global__ void fill_kernel(T* data, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    data[i] = value;
  }
}

__device__ inline float load_as_float(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::BF16: return bf16_to_float(static_cast<const bf16*>(data)[i]);
    default: return f16_to_float(static_cast<const f16*>(data)[i]);
  }
}

__device__ inline void store_from_float(void* data, DType dtype, int64_t i, float value) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(data)[i] = value; return;
    case DType::BF16: static_cast<bf16*>(data)[i] = float_to_bf16(value); return;
    default: static_cast<f16*>(data)[i] = float_to_f16(value); return;
  }
}

__global__ void convert_kernel(const void* src, DType src_dtype, void* dst, DType dst_dtype,
                               int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    store_from_float(dst, dst_dtype, i, load_as_float(src, src_dtype, i));
  }
}

unsigned grid_for(int64_t n) {
  int64_t blocks = (n + 255) / 256;
  return unsigned(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

template <typename T>
void fill_typed(void* data, int64_t n, T value) {
  fill_kernel<<<grid_for(n), 256, 0, current_stream()>>>(static_cast<T*>(data), n, value);
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void fill_device(void* data, DType dtype, int64_t n, double value) {
  if (n == 0) return;
  switch (dtype) {
    case DType::F32: return fill_typed(data, n, float(value));
    case DType::BF16: return fill_typed(data, n, float_to_bf16(float(value)).bits);
    case DType::F16: return fill_typed(data, n, float_to_f16(float(value)).bits);
    case DType::I32: return fill_typed(data, n, int32_t(value));
    case DType::I64: return fill_typed(data, n, int64_t(value));
    case DType::U8: return fill_typed(data, n, uint8_t(value));
    default: break;
  }
  throw Error(std::string("Tensor::fill does not support ") + dtype_name(dtype));
}

void convert_device(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) {
  if (n == 0) return;
  convert_kernel<<<grid_for(n), 256, 0, current_stream()>>>(src, src_dtype, dst, dst_dtype, n);
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace mcpp::cuda_detail
