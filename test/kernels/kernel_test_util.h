#pragma once
// Helpers of the kernel tests: random and NaN-poisoned tensors, a naive-vs-kernel comparison and
// central finite differences of a scalar loss.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "core/base/tensor.h"

namespace mcpp::test {

// Uniform values in [low, high) from a fixed-seed generator.
inline Tensor random_tensor(const Shape& shape, uint32_t seed, float low = -1.0f, float high = 1.0f) {
  Tensor t = Tensor::empty(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(low, high);
  float* data = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = dist(gen);
  return t;
}

// A tensor full of NaN: an output element the kernel forgets to write stays NaN.
inline Tensor poisoned(const Shape& shape, DType dtype = DType::F32) {
  Tensor t = Tensor::empty(shape, dtype);
  t.fill(std::numeric_limits<double>::quiet_NaN());
  return t;
}

inline Tensor clone(const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  copy.copy_from(t);
  return copy;
}

// Σ weights · values in fp64: the scalar loss whose gradient w.r.t. `values` is `weights`.
inline double weighted_sum(const Tensor& values, const Tensor& weights) {
  double sum = 0;
  const float* v = values.data<float>();
  const float* w = weights.data<float>();
  for (int64_t i = 0; i < values.numel(); ++i) sum += double(v[i]) * w[i];
  return sum;
}

// Requires |actual − expected| <= atol + rtol·|expected| elementwise (and no NaN).
inline void require_close(const Tensor& actual, const Tensor& expected, double atol, double rtol,
                          const std::string& what) {
  REQUIRE(actual.numel() == expected.numel());
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    double diff = std::fabs(double(a[i]) - double(e[i]));
    if (!(diff <= atol + rtol * std::fabs(double(e[i])))) {
      FAIL(what << ": element " << i << " is " << a[i] << ", expected " << e[i]);
    }
  }
}

// Central finite differences of loss() w.r.t. every element of `input` (perturbed in place and
// restored), compared with `analytic`.
inline void check_gradient(const Tensor& input, const Tensor& analytic,
                           const std::function<double()>& loss, const std::string& what,
                           double step = 1e-2, double atol = 2e-3, double rtol = 2e-2) {
  REQUIRE(input.numel() == analytic.numel());
  float* x = input.data<float>();
  const float* g = analytic.data<float>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    float saved = x[i];
    x[i] = saved + float(step);
    double up = loss();
    x[i] = saved - float(step);
    double down = loss();
    x[i] = saved;
    double numeric = (up - down) / (2 * step);
    double diff = std::fabs(numeric - double(g[i]));
    if (!(diff <= atol + rtol * std::fabs(numeric))) {
      FAIL(what << ": gradient element " << i << " is " << g[i] << ", finite differences give "
                << numeric);
    }
  }
}

}  // namespace mcpp::test
