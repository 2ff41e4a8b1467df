// fp32 reference tanh-approximation GELU with an optional fused bias (Megatron's bias_gelu).
#include <cmath>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// Checks the arguments and returns the number of columns f (= bias size or last dim).
int64_t gelu_columns(const char* op, const Tensor& x, const Tensor& bias) {
  require(op, "x", x, DType::F32);
  require_optional(op, "bias", bias, DType::F32);
  check(x.rank() >= 1, std::string(op) + ": x must have at least one dimension");
  int64_t f = x.dim(-1);
  if (bias.defined()) require_shape(op, "bias", bias, Shape{f});
  return f;
}
}  // namespace

void gelu_forward(const Tensor& x, const Tensor& bias, const Tensor& y) {
  const char* op = "gelu_forward";
  int64_t f = gelu_columns(op, x, bias);
  require(op, "y", y, DType::F32);
  require_shape(op, "y", y, x.shape());
  const float* in = x.data<float>();
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  float* out = y.data<float>();
  int64_t n = x.numel();
#pragma omp parallel for if (worth_parallel(8 * n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float z = in[i] + (b ? b[i % f] : 0.0f);
    out[i] = 0.5f * z * (1.0f + std::tanh(kSqrt2OverPi * (z + kCubic * z * z * z)));
  }
}

void gelu_backward(const Tensor& x, const Tensor& bias, const Tensor& dy, const Tensor& dx,
                   const Tensor& dbias) {
  const char* op = "gelu_backward";
  int64_t f = gelu_columns(op, x, bias);
  require(op, "dy", dy, DType::F32);
  require(op, "dx", dx, DType::F32);
  require_optional(op, "dbias", dbias, DType::F32);
  require_shape(op, "dy", dy, x.shape());
  require_shape(op, "dx", dx, x.shape());
  if (dbias.defined()) require_shape(op, "dbias", dbias, Shape{f});
  const float* in = x.data<float>();
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  const float* grad = dy.data<float>();
  float* out = dx.data<float>();
  int64_t n = x.numel();
#pragma omp parallel for if (worth_parallel(8 * n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float z = in[i] + (b ? b[i % f] : 0.0f);
    float t = std::tanh(kSqrt2OverPi * (z + kCubic * z * z * z));
    float derivative =
        0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * z * z);
    out[i] = grad[i] * derivative;
  }
  if (dbias.defined()) {
    accumulate_columns(f ? n / f : 0, f, dbias.data<float>(),
                       [&](int64_t r, int64_t c) { return out[r * f + c]; });
  }
}

}  // namespace mcpp::core::cpu
