// Fused softmax cross-entropy on the GPU: one block per row, an online (max, Σexp) pass over the
// vocabulary, probabilities never stored; backward recomputes them from the saved lse. Totals are
// summed in a fixed order by a second single-block kernel (deterministic).
#include <algorithm>

#include "core/kernels/cuda/cuda_util.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

constexpr int kThreads = 256;

// Merges online-softmax states (m, s): s is Σ exp(x − m).
__device__ inline void merge(float& m, float& s, float other_m, float other_s) {
  float mx = fmaxf(m, other_m);
  if (mx == -INFINITY) return;
  s = s * expf(m - mx) + other_s * expf(other_m - mx);
  m = mx;
}

// One thread's running softmax state over the values it sees: a single exp per value.
__device__ inline void accumulate(float& m, float& s, float v) {
  if (v > m) {
    s = s * expf(m - v) + 1.0f;
    m = v;
  } else {
    s += expf(v - m);
  }
}

template <typename T>
__global__ void cross_entropy_forward_kernel(const T* logits, const int64_t* labels,
                                             int64_t vocab, float smoothing, float* losses,
                                             float* lse) {
  int64_t n = blockIdx.x;
  const T* row = logits + n * vocab;
  float m = -INFINITY, s = 0.0f, sum_logits = 0.0f;
  constexpr int kPack = Pack16<T>::kSize;
  const bool packed = vocab % kPack == 0;  // rows then start 16-byte aligned
  const int64_t head = packed ? vocab : 0;
  for (int64_t c = int64_t(threadIdx.x) * kPack; c < head; c += int64_t(blockDim.x) * kPack) {
    Pack16<T> pack;
    pack.bits = *reinterpret_cast<const uint4*>(row + c);
#pragma unroll
    for (int i = 0; i < kPack; ++i) {
      const float v = pack.get(i);
      sum_logits += v;
      accumulate(m, s, v);
    }
  }
  for (int64_t c = head + threadIdx.x; c < vocab; c += blockDim.x) {
    float v = to_float(row[c]);
    sum_logits += v;
    accumulate(m, s, v);
  }
  // Block-wide merge of the (m, s) states through shared memory, in a fixed tree.
  __shared__ float shared_m[kThreads], shared_s[kThreads];
  shared_m[threadIdx.x] = m;
  shared_s[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      float a_m = shared_m[threadIdx.x], a_s = shared_s[threadIdx.x];
      merge(a_m, a_s, shared_m[threadIdx.x + stride], shared_s[threadIdx.x + stride]);
      shared_m[threadIdx.x] = a_m;
      shared_s[threadIdx.x] = a_s;
    }
    __syncthreads();
  }
  float total_logits = block_sum(sum_logits);
  if (threadIdx.x == 0) {
    float row_lse = shared_m[0] + logf(shared_s[0]);
    float loss = row_lse - to_float(row[labels[n]]);
    if (smoothing > 0.0f) {
      float mean_log_prob = total_logits / float(vocab) - row_lse;
      loss = (1.0f - smoothing) * loss - smoothing * mean_log_prob;
    }
    lse[n] = row_lse;
    losses[n] = loss;
  }
}

__global__ void cross_entropy_totals_kernel(const float* losses, const float* mask, int64_t rows,
                                            float* totals) {
  __shared__ double loss_sum[kThreads], mask_sum[kThreads];
  double l = 0.0, m = 0.0;
  for (int64_t n = threadIdx.x; n < rows; n += blockDim.x) {
    double w = mask ? mask[n] : 1.0;
    l += w * losses[n];
    m += w;
  }
  loss_sum[threadIdx.x] = l;
  mask_sum[threadIdx.x] = m;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      loss_sum[threadIdx.x] += loss_sum[threadIdx.x + stride];
      mask_sum[threadIdx.x] += mask_sum[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    totals[0] = float(loss_sum[0]);
    totals[1] = float(mask_sum[0]);
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int64_t* labels,
                                              const float* mask, const float* lse,
                                              float grad_scale, int64_t vocab, float smoothing,
                                              T* dlogits) {
  int64_t n = blockIdx.x;
  float row_scale = grad_scale * (mask ? mask[n] : 1.0f);
  float uniform_target = smoothing / float(vocab);
  int64_t label = labels[n];
  float row_lse = lse[n];
  const T* row = logits + n * vocab;
  T* grad = dlogits + n * vocab;
  constexpr int kPack = Pack16<T>::kSize;
  const int64_t head = vocab % kPack == 0 ? vocab : 0;
  for (int64_t c = int64_t(threadIdx.x) * kPack; c < head; c += int64_t(blockDim.x) * kPack) {
    Pack16<T> pack;
    pack.bits = *reinterpret_cast<const uint4*>(row + c);
#pragma unroll
    for (int i = 0; i < kPack; ++i) {
      float target = (c + i == label ? 1.0f - smoothing : 0.0f) + uniform_target;
      pack.set(i, (expf(pack.get(i) - row_lse) - target) * row_scale);
    }
    *reinterpret_cast<uint4*>(grad + c) = pack.bits;
  }
  for (int64_t c = head + threadIdx.x; c < vocab; c += blockDim.x) {
    float target = (c == label ? 1.0f - smoothing : 0.0f) + uniform_target;
    float v = to_float(row[c]);
    grad[c] = from_float<T>((expf(v - row_lse) - target) * row_scale);
  }
}

struct Rows {
  int64_t count, vocab;
};

Rows check_inputs(const char* op, const Tensor& logits, const Tensor& labels,
                  const Tensor& loss_mask, const CrossEntropyOptions& options) {
  require(op, "labels", labels, DType::I64);
  require_optional(op, "loss_mask", loss_mask, DType::F32);
  check(logits.rank() >= 1 && logits.dim(-1) > 1,
        std::string(op) + ": logits must be [..., V] with V > 1, got " + logits.describe());
  Rows rows{logits.numel() / logits.dim(-1), logits.dim(-1)};
  require_numel(op, "labels", labels, rows.count);
  if (loss_mask.defined()) require_numel(op, "loss_mask", loss_mask, rows.count);
  check(options.label_smoothing >= 0.0f && options.label_smoothing < 1.0f,
        std::string(op) + ": label smoothing must be in [0, 1)");
  // Labels are validated on the host (a small copy): an out-of-range label would read outside
  // the row on the device.
  Tensor host = Tensor::empty(labels.shape(), DType::I64);
  host.copy_from(labels);
  const int64_t* label = host.data<int64_t>();
  cpu::check_labels_in_vocab(op, label, rows.count, rows.vocab);
  return rows;
}

float smoothing_weight(const CrossEntropyOptions& options, int64_t vocab) {
  return float(double(options.label_smoothing) * double(vocab) / double(vocab - 1));
}

}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                           const CrossEntropyOptions& options, const Tensor& losses,
                           const Tensor& lse, const Tensor& totals) {
  const char* op = "cross_entropy_forward";
  DType dtype = activation_dtype(op, {&logits});
  Rows rows = check_inputs(op, logits, labels, loss_mask, options);
  require(op, "losses", losses, DType::F32);
  require(op, "lse", lse, DType::F32);
  require(op, "totals", totals, DType::F32);
  require_numel(op, "losses", losses, rows.count);
  require_numel(op, "lse", lse, rows.count);
  require_numel(op, "totals", totals, 2);
  float smoothing = smoothing_weight(options, rows.vocab);
  if (rows.count > 0) {
    dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      cross_entropy_forward_kernel<<<unsigned(rows.count), kThreads, 0, current_stream()>>>(
          logits.data<T>(), labels.data<int64_t>(), rows.vocab, smoothing, losses.data<float>(),
          lse.data<float>());
    });
    MCPP_CUDA_CHECK_LAUNCH();
  }
  cross_entropy_totals_kernel<<<1, kThreads, 0, current_stream()>>>(
      losses.data<float>(), cptr<float>(loss_mask), rows.count, totals.data<float>());
  MCPP_CUDA_CHECK_LAUNCH();
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                            const Tensor& lse, float grad_scale,
                            const CrossEntropyOptions& options, const Tensor& dlogits) {
  const char* op = "cross_entropy_backward";
  DType dtype = activation_dtype(op, {&logits, &dlogits});
  Rows rows = check_inputs(op, logits, labels, loss_mask, options);
  require(op, "lse", lse, DType::F32);
  require_numel(op, "lse", lse, rows.count);
  require_numel(op, "dlogits", dlogits, logits.numel());
  if (rows.count == 0) return;
  float smoothing = smoothing_weight(options, rows.vocab);
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_backward_kernel<<<unsigned(rows.count), kThreads, 0, current_stream()>>>(
        logits.data<T>(), labels.data<int64_t>(), cptr<float>(loss_mask), lse.data<float>(),
        grad_scale, rows.vocab, smoothing, dlogits.data<T>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace mcpp::core::gpu
