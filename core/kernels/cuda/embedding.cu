// Embedding lookup and its deterministic backward on the GPU. The backward groups token
// positions by embedding row on the host (a counting sort of the ids, which the host reads
// anyway to validate them), then one block per touched row adds that row's gradients in token
// order: no atomics, the same order on every run.
#include <vector>

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

// Block g adds, for embedding row rows[g], the dout rows of tokens[starts[g] .. starts[g+1]).
template <typename T>
__global__ void embedding_backward_kernel(const int64_t* touched_rows, const int64_t* starts,
                                          const int64_t* tokens, const T* dout, int64_t hidden,
                                          float* table) {
  int64_t g = blockIdx.x;
  int64_t row = touched_rows[g];
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    float sum = table[row * hidden + c];
    for (int64_t e = starts[g]; e < starts[g + 1]; ++e) sum += to_float(dout[tokens[e] * hidden + c]);
    table[row * hidden + c] = sum;
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
  const char* op = "embedding_backward";
  Tensor host = host_ids(op, ids);
  DType dtype = activation_dtype(op, {&dout});
  require(op, "dweight", dweight, DType::F32);
  check(dweight.rank() == 2, std::string(op) + ": dweight must be [V, h], got " + dweight.describe());
  int64_t rows = dweight.dim(0), hidden = dweight.dim(1);
  require_shape(op, "dout", dout, row_shape(ids, hidden));
  int64_t tokens = ids.numel();
  if (tokens == 0 || hidden == 0) return;

  // Counting sort of the owned token positions by row, stable (token order kept per row).
  const int64_t* id = host.data<int64_t>();
  std::vector<int64_t> count(size_t(rows) + 1, 0);
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t local = id[t] - vocab_start;
    if (local >= 0 && local < rows) ++count[size_t(local) + 1];
  }
  for (int64_t r = 0; r < rows; ++r) count[size_t(r) + 1] += count[size_t(r)];
  int64_t owned = count[size_t(rows)];
  if (owned == 0) return;
  std::vector<int64_t> order(size_t(owned) > 0 ? size_t(owned) : 1);
  std::vector<int64_t> fill = count;
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t local = id[t] - vocab_start;
    if (local >= 0 && local < rows) order[size_t(fill[size_t(local)]++)] = t;
  }
  std::vector<int64_t> touched, starts;
  for (int64_t r = 0; r < rows; ++r) {
    if (count[size_t(r) + 1] > count[size_t(r)]) {
      touched.push_back(r);
      starts.push_back(count[size_t(r)]);
    }
  }
  starts.push_back(owned);
  int64_t groups = int64_t(touched.size());
  // One upload: [touched (groups) | starts (groups + 1) | order (owned)].
  Tensor plan_host = Tensor::empty(Shape{2 * groups + 1 + owned}, DType::I64);
  int64_t* plan = plan_host.data<int64_t>();
  std::copy(touched.begin(), touched.end(), plan);
  std::copy(starts.begin(), starts.end(), plan + groups);
  std::copy(order.begin(), order.end(), plan + 2 * groups + 1);
  Tensor plan_device = Tensor::empty(plan_host.shape(), DType::I64, Device::CUDA);
  plan_device.copy_from(plan_host);
  const int64_t* device_plan = plan_device.data<int64_t>();
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    embedding_backward_kernel<<<unsigned(groups), 128, 0, current_stream()>>>(
        device_plan, device_plan + groups, device_plan + 2 * groups + 1, dout.data<T>(), hidden,
        dweight.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
  // plan_device must outlive the kernel: its block returns to the cache, and any later use is
  // queued on the same stream after this kernel.
}

}  // namespace mcpp::core::gpu
