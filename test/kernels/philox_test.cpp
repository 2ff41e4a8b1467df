// Philox4x32-10 known answers, value statistics and the sharded-initialisation property.
#include <cmath>
#include <vector>

#include "core/base/philox.h"
#include "core/kernels/dropout.h"
#include "core/kernels/random_init.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
  struct Case {
    Philox4 counter;
    uint32_t key0, key1;
    Philox4 expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Case& c : cases) {
    Philox4 out = philox4x32_10(c.counter, c.key0, c.key1);
    for (int lane = 0; lane < 4; ++lane) CHECK(out.v[lane] == c.expected.v[lane]);
  }
  // The (seed, stream, block) packing: low words first.
  Philox4 packed = philox_block(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
  CHECK(packed.v[0] == 0xd16cfe09u);
  CHECK(packed.v[3] == 0x24126ea1u);
}

TEST_CASE("Philox uniforms and normals have the right statistics") {
  const int n = 400000;
  double sum_u = 0, sum_u2 = 0, sum_z = 0, sum_z2 = 0, sum_z4 = 0;
  float min_u = 1, max_u = 0;
  for (int i = 0; i < n; ++i) {
    float u = philox_uniform(1234, 5, uint64_t(i));
    float z = philox_normal(1234, 6, uint64_t(i));
    min_u = std::min(min_u, u);
    max_u = std::max(max_u, u);
    sum_u += u;
    sum_u2 += double(u) * u;
    sum_z += z;
    sum_z2 += double(z) * z;
    sum_z4 += double(z) * z * z * z;
  }
  CHECK(min_u >= 0.0f);
  CHECK(max_u < 1.0f);
  CHECK(std::fabs(sum_u / n - 0.5) < 0.003);
  CHECK(std::fabs(sum_u2 / n - 1.0 / 3.0) < 0.003);
  CHECK(std::fabs(sum_z / n) < 0.01);
  CHECK(std::fabs(sum_z2 / n - 1.0) < 0.01);
  CHECK(std::fabs(sum_z4 / n - 3.0) < 0.06);  // Gaussian kurtosis
  // Different streams and seeds give different values.
  CHECK(philox_uniform(1234, 5, 0) != philox_uniform(1234, 6, 0));
  CHECK(philox_uniform(1234, 5, 0) != philox_uniform(1235, 5, 0));
  // The 4-wide form agrees with the per-element form.
  float four[4];
  philox_normal4(9, 3, 10, four);
  for (int lane = 0; lane < 4; ++lane) CHECK(four[lane] == philox_normal(9, 3, 40 + lane));
}

TEST_CASE("initialising a shard gives the slice of the full tensor") {
  PhiloxStream rng{42, 7, 0};
  Tensor full = test::poisoned({6, 10});
  core::init_normal(full, 0.0f, 0.02f, rng);
  const float* f = full.data<float>();
  for (int64_t i = 0; i < full.numel(); ++i) {
    REQUIRE(f[i] == 0.02f * philox_normal(42, 7, uint64_t(i)));
  }
  // Column-parallel shard (rows 2..4) and row-parallel shard (columns 5..9).
  Tensor rows = test::poisoned({2, 10});
  core::init_normal(rows, 0.0f, 0.02f, rng, Shape{6, 10}, Shape{2, 0});
  Tensor cols = test::poisoned({6, 5});
  core::init_normal(cols, 0.0f, 0.02f, rng, Shape{6, 10}, Shape{0, 5});
  for (int r = 0; r < 6; ++r) {
    for (int c = 0; c < 10; ++c) {
      if (r >= 2 && r < 4) REQUIRE(rows.data<float>()[(r - 2) * 10 + c] == f[r * 10 + c]);
      if (c >= 5) REQUIRE(cols.data<float>()[r * 5 + c - 5] == f[r * 10 + c]);
    }
  }
  Tensor uniform = test::poisoned({3, 4, 5});
  core::init_uniform(uniform, -0.5f, 0.5f, rng);
  Tensor uniform_shard = test::poisoned({3, 2, 5});
  core::init_uniform(uniform_shard, -0.5f, 0.5f, rng, Shape{3, 4, 5}, Shape{0, 1, 0});
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 2; ++b) {
      for (int c = 0; c < 5; ++c) {
        float value = uniform.data<float>()[(a * 4 + b + 1) * 5 + c];
        REQUIRE(uniform_shard.data<float>()[(a * 2 + b) * 5 + c] == value);
        REQUIRE(value >= -0.5f);
        REQUIRE(value < 0.5f);
      }
    }
  }
  CHECK_THROWS_AS(core::init_normal(rows, 0.0f, 1.0f, rng, Shape{6, 10}, Shape{5, 0}), Error);
}

TEST_CASE("dropout keeps 1-p of the elements, scales them, and regenerates the mask") {
  const float p = 0.3f;
  PhiloxStream rng{11, 3, 100};
  Tensor x = test::random_tensor({64, 33}, 1);
  Tensor y = test::poisoned({64, 33});
  core::dropout_forward(x, p, rng, y);
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    float value = y.data<float>()[i];
    if (value != 0.0f) {
      ++kept;
      REQUIRE(value == x.data<float>()[i] * (1.0f / (1.0f - p)));
    }
    bool expect_kept = philox_uniform(11, 3, 100 + uint64_t(i)) >= p;
    REQUIRE((value != 0.0f) == expect_kept);
  }
  CHECK(std::fabs(double(kept) / x.numel() - (1.0 - p)) < 0.03);

  // Backward applies the same mask to the gradient.
  Tensor dy = test::random_tensor({64, 33}, 2);
  Tensor dx = test::poisoned({64, 33});
  core::dropout_backward(dy, p, rng, dx);
  for (int64_t i = 0; i < x.numel(); ++i) {
    bool was_kept = y.data<float>()[i] != 0.0f;
    REQUIRE(dx.data<float>()[i] == (was_kept ? dy.data<float>()[i] * (1.0f / (1.0f - p)) : 0.0f));
  }

  // A slice drawn with the matching offset equals the slice of the whole (any alignment).
  Tensor tail = test::poisoned({13, 33});
  core::dropout_forward(x.slice(51, 64), p, PhiloxStream{11, 3, 100 + 51 * 33}, tail);
  for (int64_t i = 0; i < tail.numel(); ++i) {
    REQUIRE(tail.data<float>()[i] == y.data<float>()[51 * 33 + i]);
  }

  // p = 0 copies; in place works.
  Tensor z = test::clone(x);
  core::dropout_forward(z, 0.0f, rng, z);
  test::require_close(z, x, 0, 0, "dropout p=0");
  core::dropout_forward(z, p, rng, z);
  test::require_close(z, y, 0, 0, "in-place dropout");
}
