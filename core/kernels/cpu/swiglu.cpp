// fp32 reference SwiGLU: [gate ; up] halves of the last dimension, y = silu(gate) · up.
#include <cmath>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {
// Checks x [..., 2f] against a [..., f] partner and returns f.
int64_t swiglu_half(const char* op, const Tensor& x, const Tensor& half, const char* half_name) {
  require(op, "x", x, DType::F32);
  require(op, half_name, half, DType::F32);
  check(x.rank() >= 1 && x.dim(-1) % 2 == 0,
        std::string(op) + ": x must have an even last dimension, got " + x.describe());
  int64_t f = x.dim(-1) / 2;
  Shape expected = x.shape();
  expected[-1] = f;
  require_shape(op, half_name, half, expected);
  return f;
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }
}  // namespace

void swiglu_forward(const Tensor& x, const Tensor& y) {
  int64_t f = swiglu_half("swiglu_forward", x, y, "y");
  const float* in = x.data<float>();
  float* out = y.data<float>();
  int64_t rows = f ? y.numel() / f : 0;
#pragma omp parallel for if (worth_parallel(8 * rows * f)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* gate = in + r * 2 * f;
    const float* up = gate + f;
    for (int64_t c = 0; c < f; ++c) out[r * f + c] = gate[c] * sigmoid(gate[c]) * up[c];
  }
}

void swiglu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const char* op = "swiglu_backward";
  int64_t f = swiglu_half(op, x, dy, "dy");
  require(op, "dx", dx, DType::F32);
  require_shape(op, "dx", dx, x.shape());
  const float* in = x.data<float>();
  const float* grad = dy.data<float>();
  float* out = dx.data<float>();
  int64_t rows = f ? dy.numel() / f : 0;
#pragma omp parallel for if (worth_parallel(8 * rows * f)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* gate = in + r * 2 * f;
    const float* up = gate + f;
    float* dgate = out + r * 2 * f;
    float* dup = dgate + f;
    for (int64_t c = 0; c < f; ++c) {
      float s = sigmoid(gate[c]);
      float g = grad[r * f + c];
      float dgate_value = g * up[c] * s * (1.0f + gate[c] * (1.0f - s));
      float dup_value = g * gate[c] * s;
      // Both values are computed before either store, so dx may alias x.
      dgate[c] = dgate_value;
      dup[c] = dup_value;
    }
  }
}

}  // namespace mcpp::core::cpu
