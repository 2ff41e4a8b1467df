#include "core/model/cuda/qkv_shuffle.h"

#include <cstdint>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"

namespace mcpp::model::cuda {

namespace {

// One thread per element of the fused row: row r, group g holds [q heads | k | v] of width
// (heads_per_group + 2) * d. T is a same-size integer standing for the element.
template <typename T>
__global__ void shuffle_kernel(T* fused, T* q, T* k, T* v, int64_t rows, int64_t groups, int64_t q_group,
                               int64_t d, bool to_fused) {
  const int64_t width = q_group + 2 * d;
  const int64_t total = rows * groups * width;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t rg = i / width;  // r * groups + g
    const int64_t c = i % width;
    T* other = c < q_group       ? q + rg * q_group + c
               : c < q_group + d ? k + rg * d + (c - q_group)
                                 : v + rg * d + (c - q_group - d);
    if (to_fused)
      fused[i] = *other;
    else
      *other = fused[i];
  }
}

template <typename T>
void launch(const Tensor& qkv, const Tensor& q, const Tensor& k, const Tensor& v, int heads_per_group,
            bool to_fused) {
  const int64_t d = q.dim(-1), groups = k.dim(-2);
  const int64_t q_group = heads_per_group * d;
  const int64_t rows = q.numel() / (groups * q_group);
  const int64_t total = qkv.numel();
  int64_t blocks = (total + 255) / 256;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  shuffle_kernel<T><<<unsigned(blocks), 256, 0, current_stream()>>>(
      static_cast<T*>(qkv.raw_data()), static_cast<T*>(q.raw_data()), static_cast<T*>(k.raw_data()),
      static_cast<T*>(v.raw_data()), rows, groups, q_group, d, to_fused);
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void shuffle_qkv(const Tensor& qkv, const Tensor& q, const Tensor& k, const Tensor& v, int heads_per_group,
                 bool to_fused) {
  switch (dtype_size(qkv.dtype())) {
    case 2: return launch<uint16_t>(qkv, q, k, v, heads_per_group, to_fused);
    case 4: return launch<uint32_t>(qkv, q, k, v, heads_per_group, to_fused);
    default: throw Error("QKV layout shuffle: unsupported dtype " + qkv.describe());
  }
}

}  // namespace mcpp::model::cuda
