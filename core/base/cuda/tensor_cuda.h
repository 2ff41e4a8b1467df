#pragma once
// Device-side pieces of Tensor (fill and dtype conversion), implemented in tensor_cuda.cu.
#include <cstdint>

#include "core/base/dtype.h"

namespace mcpp::cuda_detail {

// Sets n elements of dtype at `data` (device memory) to value.
void fill_device(void* data, DType dtype, int64_t n, double value);

// Converts n floating elements (F32/BF16/F16) from `src` to `dst`, both in device memory.
void convert_device(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n);

}  // namespace mcpp::cuda_detail
