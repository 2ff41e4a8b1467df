// fp32 reference elementwise helpers.
#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

void add(const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "add";
  require(op, "a", a, DType::F32);
  require(op, "b", b, DType::F32);
  require(op, "out", out, DType::F32);
  require_numel(op, "b", b, a.numel());
  require_numel(op, "out", out, a.numel());
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  float* z = out.data<float>();
  int64_t n = a.numel();
#pragma omp parallel for if (worth_parallel(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + y[i];
}

void axpy(float alpha, const Tensor& x, const Tensor& y) {
  const char* op = "axpy";
  require(op, "x", x, DType::F32);
  require(op, "y", y, DType::F32);
  require_numel(op, "y", y, x.numel());
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  int64_t n = x.numel();
#pragma omp parallel for if (worth_parallel(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] += alpha * src[i];
}

void scale(const Tensor& x, float alpha) {
  require("scale", "x", x, DType::F32);
  float* data = x.data<float>();
  int64_t n = x.numel();
#pragma omp parallel for if (worth_parallel(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) data[i] *= alpha;
}

void bias_add(const Tensor& x, const Tensor& bias, const Tensor& out) {
  const char* op = "bias_add";
  require(op, "x", x, DType::F32);
  require(op, "bias", bias, DType::F32);
  require(op, "out", out, DType::F32);
  check(bias.rank() == 1, std::string(op) + ": bias must be [h], got " + bias.describe());
  int64_t h = bias.dim(0);
  int64_t rows = rows_of(op, "x", x, h);
  require_shape(op, "out", out, x.shape());
  const float* src = x.data<float>();
  const float* b = bias.data<float>();
  float* dst = out.data<float>();
#pragma omp parallel for if (worth_parallel(rows * h)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < h; ++c) dst[r * h + c] = src[r * h + c] + b[c];
  }
}

void bias_grad(const Tensor& dy, const Tensor& dbias) {
  const char* op = "bias_grad";
  require(op, "dy", dy, DType::F32);
  require(op, "dbias", dbias, DType::F32);
  check(dbias.rank() == 1, std::string(op) + ": dbias must be [h], got " + dbias.describe());
  int64_t h = dbias.dim(0);
  int64_t rows = rows_of(op, "dy", dy, h);
  const float* g = dy.data<float>();
  accumulate_columns(rows, h, dbias.data<float>(), [&](int64_t r, int64_t c) { return g[r * h + c]; });
}

double sum_of_squares(const Tensor& x) {
  require("sum_of_squares", "x", x, DType::F32);
  const float* data = x.data<float>();
  int64_t n = x.numel();
  double sum = 0.0;
#pragma omp parallel for if (worth_parallel(n)) schedule(static) reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += double(data[i]) * data[i];
  return sum;
}

}  // namespace mcpp::core::cpu
