// Linear layer on the GPU through the cuBLASLt wrapper. Row-major [rows, features] matrices are
// column-major [features, rows] matrices to cuBLAS, so every product below is written as the
// column-major product of the transposes.
#include <atomic>

#include "core/kernels/cuda/column_reduce.cuh"
#include "core/kernels/cuda/gemm.h"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

// yᵀ [out, rows] = W [out, in] · xᵀ [in, rows]; W's bytes are Wᵀ column-major (transpose A).
GemmOptions forward_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, DType dtype, int64_t rows) {
  const int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  GemmOptions g;
  g.m = out_features;
  g.n = rows;
  g.k = in_features;
  g.transpose_a = true;
  g.a = weight.raw_data();
  g.lda = in_features;
  g.b = x.raw_data();
  g.ldb = in_features;
  g.d = y.raw_data();
  g.ldd = out_features;
  g.a_dtype = g.b_dtype = g.d_dtype = dtype;
  return g;
}

// dxᵀ [in, rows] = Wᵀ [in, out] · dyᵀ [out, rows].
GemmOptions input_grad_gemm(const Tensor& dy, const Tensor& weight, const Tensor& dx, DType dtype, int64_t rows) {
  const int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  GemmOptions g;
  g.m = in_features;
  g.n = rows;
  g.k = out_features;
  g.a = weight.raw_data();
  g.lda = in_features;
  g.b = dy.raw_data();
  g.ldb = out_features;
  g.d = dx.raw_data();
  g.ldd = in_features;
  g.a_dtype = g.b_dtype = g.d_dtype = dtype;
  return g;
}

// cuBLASLt's GELU epilogues want the aux (pre-activation) leading dimension a multiple of 8.
bool epilogue_fits(int64_t features) { return features % 8 == 0; }

// Σ_rows dy through the weight-gradient GEMM's BGRADB epilogue (dy is its B operand, so the
// sums come from the same pass over dy): the epilogue writes them (fp32) to a scratch vector that
// is then added to dbias. False, nothing done, where cuBLASLt has no such kernel for the shape
// (remembered per process: the caller then runs the plain GEMM and the column reduction).
bool bias_grad_in_gemm(GemmOptions g, const Tensor& dbias, int64_t out_features) {
  static std::atomic<bool> unsupported{false};
  if (unsupported) return false;
  Tensor sums = Tensor::empty(Shape{out_features}, DType::F32, Device::CUDA);
  g.epilogue = GemmEpilogue::kBGradB;
  g.bias = sums.raw_data();
  g.bias_dtype = DType::F32;
  try {
    gemm(g);
  } catch (const Error&) {
    unsupported = true;
    return false;
  }
  add(dbias, sums, dbias);
  return true;
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  linear_residual_forward(x, weight, bias, Tensor(), y);
}

// residual undefined: the plain linear layer.
void linear_residual_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                             const Tensor& y) {
  const char* op = residual.defined() ? "linear_residual_forward" : "linear_forward";
  DType dtype = activation_dtype(op, {&x, &weight, &bias, &y, &residual});
  if (residual.defined()) require_shape(op, "residual", residual, y.shape());
  check(weight.rank() == 2, std::string(op) + ": weight must be [out, in], got " + weight.describe());
  int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  int64_t rows = rows_of(op, "x", x, in_features);
  check(rows_of(op, "y", y, out_features) == rows, std::string(op) + ": y rows differ from x rows");
  if (bias.defined()) require_shape(op, "bias", bias, Shape{out_features});
  if (rows == 0 || out_features == 0) return;
  if (in_features == 0) {
    // An empty reduction: y = bias (or 0).
    if (residual.defined()) {
      y.copy_from(residual);
    } else {
      y.fill(0.0);
    }
    if (bias.defined()) bias_add(y, bias, y);
    return;
  }
  GemmOptions g = forward_gemm(x, weight, y, dtype, rows);
  if (residual.defined()) {
    g.beta = 1.0f;
    g.c = residual.raw_data();
  }
  if (bias.defined()) {
    g.epilogue = GemmEpilogue::kBias;
    g.bias = bias.raw_data();
    g.bias_dtype = dtype;
  }
  gemm(g);
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias) {
  const char* op = "linear_backward";
  DType dtype = activation_dtype(op, {&x, &weight, &dy, &dx});
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
      gemm(input_grad_gemm(dy, weight, dx, dtype, rows));
    }
  }
  if (dweight.defined() && rows > 0 && out_features > 0 && in_features > 0) {
    // dWᵀ [in, out] += xᵀ [in, rows] · dy [rows, out]; dy's bytes are dyᵀ (transpose B).
    // fp32 accumulation into the fp32 gradient (beta = 1) from f32, bf16 or f16 operands.
    GemmOptions g;
    g.m = in_features;
    g.n = out_features;
    g.k = rows;
    g.transpose_b = true;
    g.a = x.raw_data();
    g.lda = in_features;
    g.b = dy.raw_data();
    g.ldb = out_features;
    g.d = dweight.raw_data();
    g.ldd = in_features;
    g.a_dtype = g.b_dtype = dtype;
    g.d_dtype = DType::F32;
    g.beta = 1.0f;
    if (dbias.defined() && bias_grad_in_gemm(g, dbias, out_features)) return;
    gemm(g);
  }
  if (dbias.defined()) {
    dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      accumulate_columns(rows, out_features, MatrixTerm<T>{dy.data<T>(), out_features},
                         dbias.data<float>());
    });
  }
}

void linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& pre,
                         const Tensor& y) {
  const char* op = "linear_gelu_forward";
  DType dtype = activation_dtype(op, {&x, &weight, &bias, &pre, &y});
  check(weight.rank() == 2, std::string(op) + ": weight must be [out, in], got " + weight.describe());
  const int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  const int64_t rows = rows_of(op, "x", x, in_features);
  check(rows_of(op, "pre", pre, out_features) == rows && rows_of(op, "y", y, out_features) == rows,
        std::string(op) + ": pre/y rows differ from x rows");
  if (!bias.defined() || !epilogue_fits(out_features) || rows == 0 || in_features == 0) {
    linear_forward(x, weight, bias, pre);
    return gelu_forward(pre, Tensor(), y);
  }
  require_shape(op, "bias", bias, Shape{out_features});
  GemmOptions g = forward_gemm(x, weight, y, dtype, rows);  // y = gelu(pre), pre kept in aux
  g.epilogue = GemmEpilogue::kGeluAuxBias;
  g.bias = bias.raw_data();
  g.bias_dtype = dtype;
  g.aux = pre.raw_data();
  gemm(g);
}

void linear_backward_dgelu(const Tensor& dy, const Tensor& weight, const Tensor& pre, const Tensor& dpre) {
  const char* op = "linear_backward_dgelu";
  DType dtype = activation_dtype(op, {&dy, &weight, &pre, &dpre});
  check(weight.rank() == 2, std::string(op) + ": weight must be [out, in], got " + weight.describe());
  const int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  const int64_t rows = rows_of(op, "pre", pre, in_features);
  check(rows_of(op, "dy", dy, out_features) == rows, std::string(op) + ": dy rows differ from pre rows");
  require_shape(op, "dpre", dpre, pre.shape());
  if (!epilogue_fits(in_features) || rows == 0 || out_features == 0) {
    linear_backward(pre, weight, dy, dpre, Tensor(), Tensor());
    return gelu_backward(pre, Tensor(), dpre, dpre, Tensor());
  }
  GemmOptions g = input_grad_gemm(dy, weight, dpre, dtype, rows);  // times gelu'(pre) from aux
  g.epilogue = GemmEpilogue::kDGelu;
  g.aux = pre.raw_data();
  gemm(g);
}

}  // namespace mcpp::core::gpu
