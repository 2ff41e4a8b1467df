// fp32 reference linear layer: OpenBLAS SGEMMs on row-major matrices.
#include <cblas.h>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const char* op = "linear_forward";
  require(op, "x", x, DType::F32);
  require(op, "weight", weight, DType::F32);
  require(op, "y", y, DType::F32);
  require_optional(op, "bias", bias, DType::F32);
  check(weight.rank() == 2, std::string(op) + ": weight must be [out, in], got " + weight.describe());
  int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  int64_t rows = rows_of(op, "x", x, in_features);
  check(rows_of(op, "y", y, out_features) == rows, std::string(op) + ": y rows differ from x rows");
  if (bias.defined()) require_shape(op, "bias", bias, Shape{out_features});
  if (rows == 0 || out_features == 0) return;

  float* out = y.data<float>();
  // y = x · Wᵀ; beta = 0 never reads y.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(out_features),
              int(in_features), 1.0f, x.data<float>(), int(in_features), weight.data<float>(),
              int(in_features), 0.0f, out, int(out_features));
  if (bias.defined()) {
    const float* b = bias.data<float>();
#pragma omp parallel for if (worth_parallel(rows * out_features)) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < out_features; ++c) out[r * out_features + c] += b[c];
    }
  }
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias) {
  const char* op = "linear_backward";
  require(op, "x", x, DType::F32);
  require(op, "weight", weight, DType::F32);
  require(op, "dy", dy, DType::F32);
  require_optional(op, "dx", dx, DType::F32);
  require_optional(op, "dweight", dweight, DType::F32);
  require_optional(op, "dbias", dbias, DType::F32);
  check(weight.rank() == 2, std::string(op) + ": weight must be [out, in], got " + weight.describe());
  int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  int64_t rows = rows_of(op, "x", x, in_features);
  check(rows_of(op, "dy", dy, out_features) == rows, std::string(op) + ": dy rows differ from x rows");
  if (dx.defined()) require_shape(op, "dx", dx, x.shape());
  if (dweight.defined()) require_shape(op, "dweight", dweight, weight.shape());
  if (dbias.defined()) require_shape(op, "dbias", dbias, Shape{out_features});

  if (dx.defined() && rows > 0 && in_features > 0) {
    if (out_features == 0) {
      dx.fill(0.0);
    } else {
      // dx = dy · W
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(in_features),
                  int(out_features), 1.0f, dy.data<float>(), int(out_features),
                  weight.data<float>(), int(in_features), 0.0f, dx.data<float>(), int(in_features));
    }
  }
  if (dweight.defined() && rows > 0 && out_features > 0 && in_features > 0) {
    // dW += dyᵀ · x (beta = 1 accumulates across micro-batches).
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(out_features), int(in_features),
                int(rows), 1.0f, dy.data<float>(), int(out_features), x.data<float>(),
                int(in_features), 1.0f, dweight.data<float>(), int(in_features));
  }
  if (dbias.defined()) {
    const float* g = dy.data<float>();
    accumulate_columns(rows, out_features, dbias.data<float>(),
                       [&](int64_t r, int64_t c) { return g[r * out_features + c]; });
  }
}

}  // namespace mcpp::core::cpu
