// GELU (tanh approximation, optional bias) and SwiGLU.
#include <cmath>

#include "core/kernels/gelu.h"
#include "core/kernels/swiglu.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::check_gradient;
using test::poisoned;
using test::random_tensor;
using test::require_close;
using test::weighted_sum;

TEST_CASE("gelu forward matches the tanh formula and backward matches finite differences") {
  Tensor x = random_tensor({3, 2, 5}, 1, -3.0f, 3.0f);
  Tensor bias = random_tensor({5}, 2);
  Tensor y = poisoned({3, 2, 5});
  core::gelu_forward(x, bias, y);
  Tensor expected = Tensor::empty({3, 2, 5});
  for (int64_t i = 0; i < x.numel(); ++i) {
    double z = double(x.data<float>()[i]) + bias.data<float>()[i % 5];
    double value = 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
    expected.data<float>()[i] = float(value);
  }
  require_close(y, expected, 1e-6, 1e-5, "gelu forward");
  CHECK(y.data<float>()[0] != 0.0f);

  Tensor weights = random_tensor({3, 2, 5}, 3);
  Tensor dx = poisoned({3, 2, 5});
  Tensor dbias = Tensor::zeros({5});
  core::gelu_backward(x, bias, weights, dx, dbias);
  auto loss = [&] {
    Tensor probe = Tensor::empty({3, 2, 5});
    core::gelu_forward(x, bias, probe);
    return weighted_sum(probe, weights);
  };
  check_gradient(x, dx, loss, "gelu dx");
  check_gradient(bias, dbias, loss, "gelu dbias");

  // Without bias, in place.
  Tensor z = test::clone(x);
  core::gelu_forward(z, Tensor(), z);
  Tensor plain = poisoned({3, 2, 5});
  core::gelu_forward(x, Tensor(), plain);
  require_close(z, plain, 0, 0, "in-place gelu");
}

TEST_CASE("swiglu forward is silu(gate)·up and backward matches finite differences") {
  const int64_t f = 4;
  Tensor x = random_tensor({3, 2, 2 * f}, 5, -3.0f, 3.0f);
  Tensor y = poisoned({3, 2, f});
  core::swiglu_forward(x, y);
  Tensor expected = Tensor::empty({3, 2, f});
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t c = 0; c < f; ++c) {
      double gate = x.data<float>()[r * 2 * f + c], up = x.data<float>()[r * 2 * f + f + c];
      expected.data<float>()[r * f + c] = float(gate / (1.0 + std::exp(-gate)) * up);
    }
  }
  require_close(y, expected, 1e-6, 1e-5, "swiglu forward");

  Tensor weights = random_tensor({3, 2, f}, 6);
  Tensor dx = poisoned({3, 2, 2 * f});
  core::swiglu_backward(x, weights, dx);
  auto loss = [&] {
    Tensor probe = Tensor::empty({3, 2, f});
    core::swiglu_forward(x, probe);
    return weighted_sum(probe, weights);
  };
  check_gradient(x, dx, loss, "swiglu dx");
  CHECK_THROWS_AS(core::swiglu_forward(x, poisoned({3, 2, 2 * f})), Error);
}
