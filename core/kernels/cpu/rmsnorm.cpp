// fp32 reference RMSNorm; row statistics in fp64.
#include <cmath>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd) {
  const char* op = "rmsnorm_forward";
  require(op, "x", x, DType::F32);
  require(op, "gamma", gamma, DType::F32);
  require(op, "y", y, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  check(gamma.rank() == 1, std::string(op) + ": gamma must be [h], got " + gamma.describe());
  int64_t h = gamma.dim(0);
  int64_t rows = rows_of(op, "x", x, h);
  require_shape(op, "y", y, x.shape());
  require_numel(op, "rstd", rstd, rows);

  const float* in = x.data<float>();
  const float* g = gamma.data<float>();
  float* out = y.data<float>();
  float* row_rstd = rstd.data<float>();
  float gamma_shift = options.zero_centered_gamma ? 1.0f : 0.0f;
#pragma omp parallel for if (worth_parallel(rows * h)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = in + r * h;
    double sq = 0;
    for (int64_t c = 0; c < h; ++c) sq += double(row[c]) * row[c];
    float inv = float(1.0 / std::sqrt(sq / double(h) + double(options.eps)));
    row_rstd[r] = inv;
    for (int64_t c = 0; c < h; ++c) out[r * h + c] = row[c] * inv * (g[c] + gamma_shift);
  }
}

void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma) {
  const char* op = "rmsnorm_backward";
  require(op, "x", x, DType::F32);
  require(op, "gamma", gamma, DType::F32);
  require(op, "rstd", rstd, DType::F32);
  require(op, "dy", dy, DType::F32);
  require_optional(op, "dx", dx, DType::F32);
  require_optional(op, "dgamma", dgamma, DType::F32);
  check(gamma.rank() == 1, std::string(op) + ": gamma must be [h], got " + gamma.describe());
  int64_t h = gamma.dim(0);
  int64_t rows = rows_of(op, "x", x, h);
  require_shape(op, "dy", dy, x.shape());
  require_numel(op, "rstd", rstd, rows);
  if (dx.defined()) require_shape(op, "dx", dx, x.shape());
  if (dgamma.defined()) require_shape(op, "dgamma", dgamma, gamma.shape());

  const float* in = x.data<float>();
  const float* g = gamma.data<float>();
  const float* grad = dy.data<float>();
  const float* row_rstd = rstd.data<float>();
  float gamma_shift = options.zero_centered_gamma ? 1.0f : 0.0f;

  if (dx.defined()) {
    float* out = dx.data<float>();
    // dx = rstd · (ĝ − x̂ · mean(ĝ · x̂)),  ĝ = dy · γ,  x̂ = x · rstd.
#pragma omp parallel for if (worth_parallel(rows * h)) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = in + r * h;
      const float* grad_row = grad + r * h;
      double sum_gx = 0;
      for (int64_t c = 0; c < h; ++c) {
        sum_gx += double(grad_row[c]) * (g[c] + gamma_shift) * row[c] * row_rstd[r];
      }
      double mean_gx = sum_gx / double(h);
      for (int64_t c = 0; c < h; ++c) {
        double gh = double(grad_row[c]) * (g[c] + gamma_shift);
        double xh = double(row[c]) * row_rstd[r];
        out[r * h + c] = float(row_rstd[r] * (gh - xh * mean_gx));
      }
    }
  }
  if (dgamma.defined()) {
    accumulate_columns(rows, h, dgamma.data<float>(), [&](int64_t r, int64_t c) {
      return double(grad[r * h + c]) * in[r * h + c] * row_rstd[r];
    });
  }
}

}  // namespace mcpp::core::cpu
