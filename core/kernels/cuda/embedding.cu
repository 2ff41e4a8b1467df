// Embedding lookup and its deterministic backward on the GPU. The backward sorts the token
// positions by embedding row on the device (a stable radix sort, so each row keeps its tokens in
// order), then the block at the start of each row's run adds that row's gradients in token order:
// no atomics, no host round trip, the same order on every run.
#include <cub/device/device_radix_sort.cuh>

#include "core/kernels/cuda/cuda_util.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

// The ids on the host, each checked to be non-negative (as the CPU reference does).
Tensor host_ids(const char* op, const Tensor& ids) {
  require(op, "ids", ids, DType::I64);
  Tensor host = Tensor::empty(ids.shape(), DType::I64);
  host.copy_from(ids);
  const int64_t* id = host.data<int64_t>();
  cpu::check_token_ids(op, id, host.numel());
  return host;
}

Shape row_shape(const Tensor& ids, int64_t hidden) {
  Shape shape = ids.shape();
  shape.push_back(hidden);
  return shape;
}

template <typename T>
__global__ void embedding_forward_kernel(const int64_t* ids, const T* table, int64_t rows,
                                         int64_t hidden, int64_t vocab_start, T* out) {
  int64_t t = blockIdx.x;
  int64_t local = ids[t] - vocab_start;
  bool owned = local >= 0 && local < rows;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    out[t * hidden + c] = owned ? table[local * hidden + c] : from_float<T>(0.0f);
  }
}

// Sort keys: the local row of each token this rank owns, `rows` (sorting last, skipped) for the
// others; the values are the token positions.
__global__ void embedding_row_keys_kernel(const int64_t* ids, int64_t tokens, int64_t vocab_start, uint32_t rows,
                                          uint32_t* keys, uint32_t* positions) {
  MCPP_GRID_STRIDE(t, tokens) {
    const int64_t local = ids[t] - vocab_start;
    keys[t] = local >= 0 && local < int64_t(rows) ? uint32_t(local) : rows;
    positions[t] = uint32_t(t);
  }
}

// Block i handles sorted entry i: when it starts a run of one row (and the row is owned), it adds
// the dout rows of the run's tokens, in token order, to that row; every other block returns.
template <typename T>
__global__ void embedding_backward_kernel(const uint32_t* sorted_rows, const uint32_t* sorted_tokens, int64_t entries,
                                          const T* dout, int64_t hidden, uint32_t rows, float* table) {
  const int64_t first = blockIdx.x;
  const uint32_t row = sorted_rows[first];
  if (row == rows || (first > 0 && sorted_rows[first - 1] == row)) return;
  int64_t end = first + 1;
  while (end < entries && sorted_rows[end] == row) ++end;
  float* out = table + int64_t(row) * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    float sum = out[c];
    for (int64_t e = first; e < end; ++e) sum += to_float(dout[int64_t(sorted_tokens[e]) * hidden + c]);
    out[c] = sum;
  }
}

}  // namespace

void embedding_forward(const Tensor& ids, const Tensor& weight, int64_t vocab_start,
                       const Tensor& out) {
  const char* op = "embedding_forward";
  host_ids(op, ids);
  DType dtype = activation_dtype(op, {&weight, &out});
  check(weight.rank() == 2, std::string(op) + ": weight must be [V, h], got " + weight.describe());
  int64_t rows = weight.dim(0), hidden = weight.dim(1);
  require_shape(op, "out", out, row_shape(ids, hidden));
  int64_t tokens = ids.numel();
  if (tokens == 0 || hidden == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    embedding_forward_kernel<<<unsigned(tokens), 128, 0, current_stream()>>>(
        ids.data<int64_t>(), weight.data<T>(), rows, hidden, vocab_start, out.data<T>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const Tensor& ids, const Tensor& dout, int64_t vocab_start,
                        const Tensor& dweight) {
  // The ids were validated by the forward (which reads them on the host anyway); here an id
  // outside this rank's rows, negative ones included, simply contributes nothing.
  const char* op = "embedding_backward";
  require(op, "ids", ids, DType::I64);
  DType dtype = activation_dtype(op, {&dout});
  require(op, "dweight", dweight, DType::F32);
  check(dweight.rank() == 2, std::string(op) + ": dweight must be [V, h], got " + dweight.describe());
  int64_t rows = dweight.dim(0), hidden = dweight.dim(1);
  require_shape(op, "dout", dout, row_shape(ids, hidden));
  int64_t tokens = ids.numel();
  if (tokens == 0 || hidden == 0) return;
  check(tokens < (int64_t(1) << 31) && rows < (int64_t(1) << 31) - 1,
        std::string(op) + ": more than 2^31 tokens or embedding rows");

  // [keys | positions | sorted keys | sorted positions], 32-bit each.
  Tensor sort_buffer = Tensor::empty(Shape{4 * tokens}, DType::I32, Device::CUDA);
  uint32_t* keys = static_cast<uint32_t*>(sort_buffer.raw_data());
  uint32_t* positions = keys + tokens;
  uint32_t* sorted_keys = positions + tokens;
  uint32_t* sorted_positions = sorted_keys + tokens;
  embedding_row_keys_kernel<<<elementwise_blocks(tokens), 256, 0, current_stream()>>>(
      ids.data<int64_t>(), tokens, vocab_start, uint32_t(rows), keys, positions);
  MCPP_CUDA_CHECK_LAUNCH();
  int key_bits = 1;  // keys are in [0, rows]
  while ((int64_t(1) << key_bits) <= rows) ++key_bits;
  size_t temp_bytes = 0;
  MCPP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, sorted_keys, positions,
                                                  sorted_positions, int(tokens), 0, key_bits, current_stream()));
  Tensor temp = Tensor::empty(Shape{int64_t(temp_bytes > 0 ? temp_bytes : 1)}, DType::U8, Device::CUDA);
  MCPP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, keys, sorted_keys, positions,
                                                  sorted_positions, int(tokens), 0, key_bits, current_stream()));
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    embedding_backward_kernel<<<unsigned(tokens), 128, 0, current_stream()>>>(
        sorted_keys, sorted_positions, tokens, dout.data<T>(), hidden, uint32_t(rows), dweight.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
  // sort_buffer and temp must outlive the kernels: their blocks return to the cache, and any
  // later use is queued on the same stream after them.
}

}  // namespace mcpp::core::gpu
