// LayerNorm and RMSNorm on the GPU: one block per row with fp32 statistics; weight gradients
// through the deterministic column reduction (no float atomics).
#include "core/kernels/cuda/column_reduce.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

constexpr int kThreads = 128;

// rms = true: RMSNorm (no mean, no beta).
template <typename T, bool rms>
__global__ void norm_forward_kernel(const T* x, const T* gamma, const T* beta, float eps,
                                    float gamma_shift, int64_t h, T* y, float* mean_out,
                                    float* rstd_out) {
  int64_t r = blockIdx.x;
  const T* row = x + r * h;
  float mean = 0.0f;
  if (!rms) {
    float sum = 0.0f;
    for (int64_t c = threadIdx.x; c < h; c += blockDim.x) sum += to_float(row[c]);
    mean = block_sum(sum) / float(h);
  }
  float sq = 0.0f;
  for (int64_t c = threadIdx.x; c < h; c += blockDim.x) {
    float v = to_float(row[c]) - mean;
    sq += v * v;
  }
  float rstd = 1.0f / sqrtf(block_sum(sq) / float(h) + eps);
  if (threadIdx.x == 0) {
    if (!rms) mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
  for (int64_t c = threadIdx.x; c < h; c += blockDim.x) {
    float normed = (to_float(row[c]) - mean) * rstd;
    float out = normed * (to_float(gamma[c]) + gamma_shift);
    if (beta) out += to_float(beta[c]);
    y[r * h + c] = from_float<T>(out);
  }
}

template <typename T, bool rms>
__global__ void norm_backward_dx_kernel(const T* x, const T* gamma, const float* mean,
                                        const float* rstd, const T* dy, float gamma_shift,
                                        int64_t h, const T* dresidual, T* dx) {
  int64_t r = blockIdx.x;
  float m = rms ? 0.0f : mean[r], s = rstd[r];
  float sum_g = 0.0f, sum_gx = 0.0f;
  for (int64_t c = threadIdx.x; c < h; c += blockDim.x) {
    float gh = to_float(dy[r * h + c]) * (to_float(gamma[c]) + gamma_shift);
    float xh = (to_float(x[r * h + c]) - m) * s;
    sum_g += gh;
    sum_gx += gh * xh;
  }
  float mean_g = rms ? 0.0f : block_sum(sum_g) / float(h);
  float mean_gx = block_sum(sum_gx) / float(h);
  for (int64_t c = threadIdx.x; c < h; c += blockDim.x) {
    float gh = to_float(dy[r * h + c]) * (to_float(gamma[c]) + gamma_shift);
    float xh = (to_float(x[r * h + c]) - m) * s;
    const float residual = dresidual ? to_float(dresidual[r * h + c]) : 0.0f;
    dx[r * h + c] = from_float<T>(s * (gh - mean_g - xh * mean_gx) + residual);
  }
}

// dγ term: dy · x̂ (mean = nullptr for RMSNorm).
template <typename T>
struct NormGammaTerm {
  const T* x;
  const T* dy;
  const float* mean;
  const float* rstd;
  int64_t h;
  __device__ float operator()(int64_t r, int64_t c) const {
    float m = mean ? mean[r] : 0.0f;
    return to_float(dy[r * h + c]) * ((to_float(x[r * h + c]) - m) * rstd[r]);
  }
};

int64_t norm_rows(const char* op, const Tensor& x, const Tensor& gamma) {
  check(gamma.rank() == 1, std::string(op) + ": gamma must be [h], got " + gamma.describe());
  return rows_of(op, "x", x, gamma.dim(0));
}

}  // namespace

void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const NormOptions& options, const Tensor& y, const Tensor& mean,
                       const Tensor& rstd) {
  const char* op = "layernorm_forward";
  DType dtype = activation_dtype(op, {&x, &gamma, &beta, &y});
  require(op, "mean", mean, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  if (beta.defined()) require_shape(op, "beta", beta, gamma.shape());
  require_shape(op, "y", y, x.shape());
  require_numel(op, "mean", mean, rows);
  require_numel(op, "rstd", rstd, rows);
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    norm_forward_kernel<T, false><<<unsigned(rows), kThreads, 0, current_stream()>>>(
        x.data<T>(), gamma.data<T>(), cptr<T>(beta), options.eps, shift, h, y.data<T>(),
        mean.data<float>(), rstd.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                        const Tensor& rstd, const Tensor& dy, const NormOptions& options,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dresidual) {
  const char* op = "layernorm_backward";
  DType dtype = activation_dtype(op, {&x, &gamma, &dy, &dx});
  require(op, "mean", mean, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  require_optional(op, "dgamma", dgamma, DType::F32);
  require_optional(op, "dbeta", dbeta, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  require_shape(op, "dy", dy, x.shape());
  require_numel(op, "mean", mean, rows);
  require_numel(op, "rstd", rstd, rows);
  if (dx.defined()) require_shape(op, "dx", dx, x.shape());
  if (dgamma.defined()) require_shape(op, "dgamma", dgamma, gamma.shape());
  if (dbeta.defined()) require_shape(op, "dbeta", dbeta, gamma.shape());
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (dx.defined()) {
      norm_backward_dx_kernel<T, false><<<unsigned(rows), kThreads, 0, current_stream()>>>(
          x.data<T>(), gamma.data<T>(), mean.data<float>(), rstd.data<float>(), dy.data<T>(),
          shift, h, cptr<T>(dresidual), dx.data<T>());
      MCPP_CUDA_CHECK_LAUNCH();
    }
    if (dgamma.defined()) {
      accumulate_columns(rows, h,
                         NormGammaTerm<T>{x.data<T>(), dy.data<T>(), mean.data<float>(),
                                          rstd.data<float>(), h},
                         dgamma.data<float>());
    }
    if (dbeta.defined()) accumulate_columns(rows, h, MatrixTerm<T>{dy.data<T>(), h}, dbeta.data<float>());
  });
}

void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd) {
  const char* op = "rmsnorm_forward";
  DType dtype = activation_dtype(op, {&x, &gamma, &y});
  require(op, "rstd", rstd, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  require_shape(op, "y", y, x.shape());
  require_numel(op, "rstd", rstd, rows);
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    norm_forward_kernel<T, true><<<unsigned(rows), kThreads, 0, current_stream()>>>(
        x.data<T>(), gamma.data<T>(), nullptr, options.eps, shift, h, y.data<T>(), nullptr,
        rstd.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma,
                      const Tensor& dresidual) {
  const char* op = "rmsnorm_backward";
  DType dtype = activation_dtype(op, {&x, &gamma, &dy, &dx});
  require(op, "rstd", rstd, DType::F32);
  require_optional(op, "dgamma", dgamma, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  require_shape(op, "dy", dy, x.shape());
  require_numel(op, "rstd", rstd, rows);
  if (dx.defined()) require_shape(op, "dx", dx, x.shape());
  if (dgamma.defined()) require_shape(op, "dgamma", dgamma, gamma.shape());
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (dx.defined()) {
      norm_backward_dx_kernel<T, true><<<unsigned(rows), kThreads, 0, current_stream()>>>(
          x.data<T>(), gamma.data<T>(), nullptr, rstd.data<float>(), dy.data<T>(), shift, h,
          cptr<T>(dresidual), dx.data<T>());
      MCPP_CUDA_CHECK_LAUNCH();
    }
    if (dgamma.defined()) {
      accumulate_columns(rows, h,
                         NormGammaTerm<T>{x.data<T>(), dy.data<T>(), nullptr, rstd.data<float>(), h},
                         dgamma.data<float>());
    }
  });
}

}  // namespace mcpp::core::gpu
