#pragma once
// Helpers of the GPU tests: random inputs representable in the tested dtype (so the CPU
// reference sees exactly the device's inputs), NaN-poisoned device outputs, and comparison of a
// device result with the fp32 CPU reference.
//
// Error bounds: an element passes when |gpu − cpu| <= atol·max|cpu| + rtol·|cpu|, with
//   f32:  rtol = atol = 1e-5 (scaled by sqrt(K) for reductions of length K, e.g. GEMMs);
//   bf16: rtol = atol = 2e-2 (bf16 keeps 8 significant bits: one rounding is 2^-9 ≈ 2e-3);
//   f16:  rtol = atol = 5e-3 (f16 keeps 11 significant bits: one rounding is 2^-12 ≈ 2.4e-4).
// Half-precision bounds do not grow with K: the kernels accumulate in fp32 and round once.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "core/base/tensor.h"

namespace mcpp::test {

struct Tolerance {
  double rtol, atol;
};

// The dtypes every activation kernel runs in.
inline constexpr DType kActivationDTypes[] = {DType::F32, DType::BF16, DType::F16};

inline Tolerance tolerance(DType dtype, double reduction_length = 1.0) {
  double grow = std::sqrt(std::max(1.0, reduction_length));
  if (dtype == DType::F32) return Tolerance{1e-5 * grow, 1e-5 * grow};
  return dtype == DType::F16 ? Tolerance{5e-3, 5e-3} : Tolerance{2e-2, 2e-2};
}

// `v` rounded to `dtype` and back (exact in f32).
inline float representable(float v, DType dtype) {
  if (dtype == DType::BF16) return bf16_to_float(float_to_bf16(v));
  if (dtype == DType::F16) return f16_to_float(float_to_f16(v));
  return v;
}

// Host f32 tensor, uniform in [low, high), each value rounded to `dtype` (exact in f32).
inline Tensor host_random(const Shape& shape, uint32_t seed, DType dtype, float low = -1.0f,
                          float high = 1.0f) {
  Tensor t = Tensor::empty(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(low, high);
  float* data = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    data[i] = representable(dist(gen), dtype);
  }
  return t;
}

inline Tensor to_device(const Tensor& host, DType dtype) {
  Tensor t = Tensor::empty(host.shape(), dtype, Device::CUDA);
  t.copy_from(host);
  return t;
}

inline Tensor device_poisoned(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, Device::CUDA);
  t.fill(std::numeric_limits<double>::quiet_NaN());
  return t;
}

inline Tensor to_host_f32(const Tensor& device) {
  Tensor t = Tensor::empty(device.shape());
  t.copy_from(device);
  return t;
}

inline Tensor host_copy(const Tensor& host) {
  Tensor t = Tensor::empty(host.shape(), host.dtype());
  t.copy_from(host);
  return t;
}

inline void require_close_to_cpu(const Tensor& device, const Tensor& expected, Tolerance tol,
                                 const std::string& what) {
  Tensor actual = to_host_f32(device);
  REQUIRE(actual.numel() == expected.numel());
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  double scale = 0.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (std::isfinite(e[i])) scale = std::max(scale, std::fabs(double(e[i])));
  }
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (std::isinf(e[i]) && a[i] == e[i]) continue;  // e.g. lse = −inf of a query seeing nothing
    double diff = std::fabs(double(a[i]) - double(e[i]));
    if (!(diff <= tol.atol * scale + tol.rtol * std::fabs(double(e[i])))) {
      FAIL(what << ": element " << i << " is " << a[i] << ", CPU reference " << e[i]
                << " (tolerance rtol " << tol.rtol << ", atol " << tol.atol << " x " << scale << ")");
    }
  }
}

inline const char* dtype_label(DType dtype) { return dtype_name(dtype); }

}  // namespace mcpp::test
