#include "core/model/cuda/qkv_shuffle.h"

#include <cstdint>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"

namespace mcpp::model::cuda {

namespace {

// One thread per unit of the fused row: row r, group g holds [q heads | k | v] of width
// (heads_per_group + 2) * d units. T is the unit: an integer the size of one element, or a
// 16-byte pack of elements.
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

// Moves units of T (the element itself, or a 16-byte pack of elements when a head's row is a
// multiple of 16 bytes: far fewer, fully coalesced transactions).
template <typename T>
void launch(const Tensor& qkv, const Tensor& q, const Tensor& k, const Tensor& v, int heads_per_group,
            bool to_fused, int64_t elements_per_unit) {
  const int64_t d = q.dim(-1) / elements_per_unit, groups = k.dim(-2);
  const int64_t q_group = heads_per_group * d;
  const int64_t rows = q.numel() / elements_per_unit / (groups * q_group);
  const int64_t total = qkv.numel() / elements_per_unit;
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
  const int64_t elem = static_cast<int64_t>(dtype_size(qkv.dtype()));
  check(elem == 2 || elem == 4, "QKV layout shuffle: unsupported dtype " + qkv.describe());
  const int64_t head_bytes = q.dim(-1) * elem;
  if (head_bytes % 16 == 0) return launch<uint4>(qkv, q, k, v, heads_per_group, to_fused, 16 / elem);
  if (elem == 2) return launch<uint16_t>(qkv, q, k, v, heads_per_group, to_fused, 1);
  return launch<uint32_t>(qkv, q, k, v, heads_per_group, to_fused, 1);
}

}  // namespace mcpp::model::cuda
