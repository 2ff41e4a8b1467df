// LayerNorm and RMSNorm on the GPU with fp32 statistics: warp-per-row kernels for rows that fit
// in registers (norm_row_kernels.cuh), else one block per row; weight gradients through
// deterministic column reductions (no float atomics).
#include <cstdint>
#include <initializer_list>

#include "core/kernels/cuda/column_reduce.cuh"
#include "core/kernels/cuda/gpu_ops.h"
#include "core/kernels/cuda/norm_row_kernels.cuh"

namespace mcpp::core::gpu {

namespace {

constexpr int kThreads = 128;

// rms = true: RMSNorm (no mean, no beta). With `residual`, the row normalised is
// sum = residual + x, rounded to T and stored first; each thread then reads back only the
// elements it wrote itself, so the statistics see exactly the stored sum (as an add kernel
// followed by the norm would).
template <typename T, bool rms>
__global__ void norm_forward_kernel(const T* x, const T* residual, T* sum, const T* gamma,
                                    const T* beta, float eps, float gamma_shift, int64_t h, T* y,
                                    float* mean_out, float* rstd_out) {
  int64_t r = blockIdx.x;
  const T* row = x + r * h;
  if (residual) {
    T* sum_row = sum + r * h;
    for (int64_t c = threadIdx.x; c < h; c += blockDim.x)
      sum_row[c] = from_float<T>(to_float(residual[r * h + c]) + to_float(row[c]));
    row = sum_row;
  }
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

namespace {

bool aligned16(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    if (t->defined() && reinterpret_cast<uintptr_t>(t->raw_data()) % 16 != 0) return false;
  }
  return true;
}

// LayerNorm (beta may be undefined) or RMSNorm (rms) forward of x, or of residual + x into sum
// when residual is defined. Rows that fit in registers take the warp-per-row kernel.
void norm_forward(const char* op, bool rms, const Tensor& residual, const Tensor& x,
                  const Tensor& gamma, const Tensor& beta, const NormOptions& options,
                  const Tensor& sum, const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  DType dtype = activation_dtype(op, {&x, &gamma, &beta, &y, &residual, &sum});
  if (!rms) require(op, "mean", mean, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  if (beta.defined()) require_shape(op, "beta", beta, gamma.shape());
  require_shape(op, "y", y, x.shape());
  if (residual.defined()) {
    require_shape(op, "residual", residual, x.shape());
    require_shape(op, "sum", sum, x.shape());
  }
  if (!rms) require_numel(op, "mean", mean, rows);
  require_numel(op, "rstd", rstd, rows);
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  const bool packed = aligned16({&x, &residual, &sum, &gamma, &beta, &y});
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* sum_out = residual.defined() ? sum.data<T>() : nullptr;
    float* mean_out = rms ? nullptr : mean.data<float>();
    const unsigned warp_blocks = unsigned((rows + row_warp::kWarps - 1) / row_warp::kWarps);
    const bool done = packed && row_warp::with_packs<8, T>(h, [&](auto packs) {
      constexpr int P = decltype(packs)::value;
      auto kernel = rms ? row_warp::forward_kernel<T, true, P> : row_warp::forward_kernel<T, false, P>;
      kernel<<<warp_blocks, row_warp::kWarps * 32, 0, current_stream()>>>(
          x.data<T>(), cptr<T>(residual), sum_out, gamma.data<T>(), cptr<T>(beta), options.eps, shift, h, rows,
          y.data<T>(), mean_out, rstd.data<float>());
    });
    if (done) return;
    auto kernel = rms ? norm_forward_kernel<T, true> : norm_forward_kernel<T, false>;
    kernel<<<unsigned(rows), kThreads, 0, current_stream()>>>(x.data<T>(), cptr<T>(residual), sum_out,
                                                               gamma.data<T>(), cptr<T>(beta), options.eps, shift,
                                                               h, y.data<T>(), mean_out, rstd.data<float>());
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

// LayerNorm (mean defined) or RMSNorm backward: dx (+ dresidual), dgamma +=, dbeta += (each
// optional). Rows that fit in registers take the warp-per-row kernel, whose per-warp weight
// gradient partials are then summed over warps in order; other shapes use one block per row and
// the column reductions.
void norm_backward(const char* op, bool rms, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                   const Tensor& rstd, const Tensor& dy, const NormOptions& options, const Tensor& dx,
                   const Tensor& dgamma, const Tensor& dbeta, const Tensor& dresidual) {
  DType dtype = activation_dtype(op, {&x, &gamma, &dy, &dx, &dresidual});
  if (!rms) require(op, "mean", mean, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  require_optional(op, "dgamma", dgamma, DType::F32);
  require_optional(op, "dbeta", dbeta, DType::F32);
  int64_t rows = norm_rows(op, x, gamma), h = gamma.dim(0);
  require_shape(op, "dy", dy, x.shape());
  if (!rms) require_numel(op, "mean", mean, rows);
  require_numel(op, "rstd", rstd, rows);
  if (dx.defined()) require_shape(op, "dx", dx, x.shape());
  if (dgamma.defined()) require_shape(op, "dgamma", dgamma, gamma.shape());
  if (dbeta.defined()) require_shape(op, "dbeta", dbeta, gamma.shape());
  if (rows == 0) return;
  float shift = options.zero_centered_gamma ? 1.0f : 0.0f;
  const float* mean_in = rms ? nullptr : mean.data<float>();
  const bool packed = dx.defined() && aligned16({&x, &gamma, &dy, &dx, &dresidual});
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t warps = (rows + row_warp::kRowsPerWarp - 1) / row_warp::kRowsPerWarp;
    const int64_t blocks = (warps + row_warp::kWarps - 1) / row_warp::kWarps;
    const int64_t partial_rows = blocks * row_warp::kWarps;
    Tensor partials;
    const bool done = packed && row_warp::with_packs<4, T>(h, [&](auto packs) {
      constexpr int P = decltype(packs)::value;
      const int64_t sums = (dgamma.defined() ? 1 : 0) + (dbeta.defined() ? 1 : 0);
      if (sums > 0) partials = Tensor::empty(Shape{sums * partial_rows * h}, DType::F32, Device::CUDA);
      float* dgamma_part = dgamma.defined() ? partials.data<float>() : nullptr;
      float* dbeta_part = dbeta.defined() ? partials.data<float>() + (sums - 1) * partial_rows * h : nullptr;
      auto kernel = rms ? row_warp::backward_kernel<T, true, P> : row_warp::backward_kernel<T, false, P>;
      kernel<<<unsigned(blocks), row_warp::kWarps * 32, 0, current_stream()>>>(
          x.data<T>(), gamma.data<T>(), mean_in, rstd.data<float>(), dy.data<T>(), shift, h, rows,
          cptr<T>(dresidual), dx.data<T>(), dgamma_part, dbeta_part);
      MCPP_CUDA_CHECK_LAUNCH();
      if (dgamma_part) accumulate_columns(partial_rows, h, MatrixTerm<float>{dgamma_part, h}, dgamma.data<float>());
      if (dbeta_part) accumulate_columns(partial_rows, h, MatrixTerm<float>{dbeta_part, h}, dbeta.data<float>());
    });
    if (done) return;
    if (dx.defined()) {
      auto kernel = rms ? norm_backward_dx_kernel<T, true> : norm_backward_dx_kernel<T, false>;
      kernel<<<unsigned(rows), kThreads, 0, current_stream()>>>(x.data<T>(), gamma.data<T>(), mean_in,
                                                                 rstd.data<float>(), dy.data<T>(), shift, h,
                                                                 cptr<T>(dresidual), dx.data<T>());
      MCPP_CUDA_CHECK_LAUNCH();
    }
    if (dgamma.defined()) {
      accumulate_columns(rows, h, NormGammaTerm<T>{x.data<T>(), dy.data<T>(), mean_in, rstd.data<float>(), h},
                         dgamma.data<float>());
    }
    if (dbeta.defined()) accumulate_columns(rows, h, MatrixTerm<T>{dy.data<T>(), h}, dbeta.data<float>());
  });
}

}  // namespace

void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const NormOptions& options, const Tensor& y, const Tensor& mean,
                       const Tensor& rstd) {
  norm_forward("layernorm_forward", false, Tensor(), x, gamma, beta, options, Tensor(), y, mean, rstd);
}

void add_layernorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, const NormOptions& options, const Tensor& sum,
                           const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  norm_forward("add_layernorm_forward", false, residual, x, gamma, beta, options, sum, y, mean, rstd);
}

void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                        const Tensor& rstd, const Tensor& dy, const NormOptions& options,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dresidual) {
  norm_backward("layernorm_backward", false, x, gamma, mean, rstd, dy, options, dx, dgamma, dbeta, dresidual);
}

void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd) {
  norm_forward("rmsnorm_forward", true, Tensor(), x, gamma, Tensor(), options, Tensor(), y, Tensor(), rstd);
}

void add_rmsnorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                         const NormOptions& options, const Tensor& sum, const Tensor& y,
                         const Tensor& rstd) {
  norm_forward("add_rmsnorm_forward", true, residual, x, gamma, Tensor(), options, sum, y, Tensor(), rstd);
}

void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma,
                      const Tensor& dresidual) {
  norm_backward("rmsnorm_backward", true, x, gamma, Tensor(), rstd, dy, options, dx, dgamma, Tensor(), dresidual);
}

}  // namespace mcpp::core::gpu
