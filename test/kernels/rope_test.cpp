// Rotary embedding: Megatron's rotate-half formula, partial rotation, positions, backward.
#include <cmath>

#include "core/kernels/rope.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::poisoned;
using test::random_tensor;
using test::require_close;

TEST_CASE("rope forward matches the rotate-half formula with partial rotation and positions") {
  const int64_t s = 5, b = 2, n = 3, d = 8;
  core::RopeOptions options{500.0f, 0.5f, 2.0f};  // rot_dim = 4
  Tensor x = random_tensor({s, b, n, d}, 1);
  Tensor positions = Tensor::empty({s, b}, DType::I64);
  for (int64_t i = 0; i < s; ++i) {
    positions.data<int64_t>()[i * b + 0] = i;          // plain positions
    positions.data<int64_t>()[i * b + 1] = (i * 7) % 3;  // reset per document
  }
  Tensor y = poisoned({s, b, n, d});
  core::rope_forward(x, positions, options, y);

  const int64_t rot = 4, half = 2;
  Tensor expected = Tensor::empty({s, b, n, d});
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t r = 0; r < b; ++r) {
      double p = double(positions.data<int64_t>()[i * b + r]) / 2.0;
      for (int64_t h = 0; h < n; ++h) {
        const float* in = x.data<float>() + ((i * b + r) * n + h) * d;
        float* out = expected.data<float>() + ((i * b + r) * n + h) * d;
        for (int64_t k = 0; k < rot; ++k) {
          double theta = p * std::pow(500.0, -double(2 * (k % half)) / rot);
          double rotated = k < half ? -in[k + half] : in[k - half];
          out[k] = float(in[k] * std::cos(theta) + rotated * std::sin(theta));
        }
        for (int64_t k = rot; k < d; ++k) out[k] = in[k];
      }
    }
  }
  require_close(y, expected, 1e-5, 1e-5, "rope forward");

  // Without positions: position = sequence index, i.e. batch column 0 above.
  Tensor y_default = poisoned({s, b, n, d});
  core::rope_forward(x, Tensor(), options, y_default);
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t k = 0; k < n * d; ++k) {
      REQUIRE(y_default.data<float>()[(i * b) * n * d + k] == y.data<float>()[(i * b) * n * d + k]);
    }
  }
}

TEST_CASE("rope backward is the transpose of forward") {
  // rope is linear in x: <rope(x), g> = <x, rope_backward(g)> for every x, g.
  const int64_t s = 4, b = 3, n = 2, d = 6;
  core::RopeOptions options;
  Tensor x = random_tensor({s, b, n, d}, 3);
  Tensor g = random_tensor({s, b, n, d}, 4);
  Tensor y = poisoned({s, b, n, d});
  Tensor dx = poisoned({s, b, n, d});
  core::rope_forward(x, Tensor(), options, y);
  core::rope_backward(g, Tensor(), options, dx);
  CHECK(test::weighted_sum(y, g) == Approx(test::weighted_sum(x, dx)).epsilon(1e-5));
  // And its finite-difference gradient.
  test::check_gradient(x, dx, [&] {
    Tensor probe = Tensor::empty({s, b, n, d});
    core::rope_forward(x, Tensor(), options, probe);
    return test::weighted_sum(probe, g);
  }, "rope dx");
  // In place round trip restores x.
  Tensor z = test::clone(x);
  core::rope_forward(z, Tensor(), options, z);
  core::rope_backward(z, Tensor(), options, z);
  require_close(z, x, 1e-5, 1e-5, "rope round trip");
  CHECK_THROWS_AS(core::rope_forward(x, Tensor(), core::RopeOptions{10000.0f, 0.3f, 1.0f}, y), Error);
}
