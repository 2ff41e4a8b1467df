#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "core/optim/adamw.h"
#include "core/optim/grad_norm.h"
#include "core/optim/sgd.h"

using namespace mcpp::optim;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> out(n);
  for (float& v : out) v = dist(gen);
  return out;
}

bool in_ranges(size_t i, const std::vector<ElementRange>& ranges) {
  for (const auto& r : ranges) {
    if (i >= r.begin && i < r.end) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("AdamW equals torch.optim.AdamW written per element in double") {
  const size_t n = 1000;
  const std::vector<ElementRange> no_decay = {{0, 10}, {100, 164}, {999, 1000}};
  AdamConfig config{0.9f, 0.95f, 1e-8f};
  std::vector<float> param = random_values(n, 1);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  std::vector<double> ref_p(param.begin(), param.end()), ref_m(n, 0.0), ref_v(n, 0.0);
  for (int64_t step = 1; step <= 20; ++step) {
    const std::vector<float> grad = random_values(n, 100 + step, 0.01f);
    const float lr = 1e-3f * static_cast<float>(step) / 20.0f;
    const float wd = 0.1f;
    adamw_update(config, {lr, wd, step}, param, grad, m, v, no_decay);
    const double bc1 = 1.0 - std::pow(0.9, step);
    const double bc2 = 1.0 - std::pow(static_cast<double>(0.95f), step);
    for (size_t i = 0; i < n; ++i) {
      const double decay = in_ranges(i, no_decay) ? 0.0 : wd;
      ref_p[i] *= 1.0 - static_cast<double>(lr) * decay;  // decoupled weight decay first
      ref_m[i] = 0.9 * ref_m[i] + 0.1 * grad[i];
      ref_v[i] = static_cast<double>(0.95f) * ref_v[i] + (1.0 - static_cast<double>(0.95f)) * grad[i] * grad[i];
      const double denom = std::sqrt(ref_v[i]) / std::sqrt(bc2) + static_cast<double>(config.eps);
      ref_p[i] -= static_cast<double>(lr) / bc1 * ref_m[i] / denom;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    INFO(i);
    REQUIRE(param[i] == Approx(ref_p[i]).epsilon(1e-5).margin(1e-6));
    REQUIRE(m[i] == Approx(ref_m[i]).epsilon(1e-4).margin(1e-9));
  }
}

TEST_CASE("AdamW on a shard equals the same elements of the whole buffer") {
  const size_t n = 300;
  const std::vector<ElementRange> no_decay = {{20, 40}, {150, 260}};
  AdamConfig config;
  auto whole_p = random_values(n, 5);
  auto shard_p = whole_p;
  std::vector<float> whole_m(n), whole_v(n), shard_m(n), shard_v(n);
  const auto grad = random_values(n, 6);
  adamw_update(config, {1e-2f, 0.5f, 3}, whole_p, grad, whole_m, whole_v, no_decay);
  // Two owners: [0, 128) and [128, 300), each with its re-based ranges.
  for (auto [offset, size] : {std::pair<size_t, size_t>{0, 128}, {128, 172}}) {
    const auto ranges = slice_ranges(no_decay, offset, size);
    adamw_update(config, {1e-2f, 0.5f, 3}, std::span(shard_p).subspan(offset, size),
                 std::span<const float>(grad).subspan(offset, size), std::span(shard_m).subspan(offset, size),
                 std::span(shard_v).subspan(offset, size), ranges);
  }
  CHECK(shard_p == whole_p);
  CHECK(shard_m == whole_m);
  CHECK(slice_ranges(no_decay, 128, 172) == std::vector<ElementRange>{{22, 132}});
  CHECK(slice_ranges(no_decay, 30, 10) == std::vector<ElementRange>{{0, 10}});
}

TEST_CASE("the decay mask tensor marks exactly the no-decay ranges with 0") {
  const std::vector<ElementRange> no_decay = {{0, 3}, {7, 8}};
  const mcpp::Tensor mask = decay_mask_tensor(10, no_decay, mcpp::Device::CPU);
  REQUIRE(mask.numel() == 10);
  const std::vector<uint8_t> values(mask.data<uint8_t>(), mask.data<uint8_t>() + 10);
  CHECK(values == std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 1, 0, 1, 1});
  CHECK_THROWS_WITH(decay_mask_tensor(5, no_decay, mcpp::Device::CPU), Catch::Contains("range"));
}

TEST_CASE("SGD with momentum equals torch.optim.SGD per element") {
  const size_t n = 257;
  const std::vector<ElementRange> no_decay = {{0, 1}, {200, 257}};
  auto param = random_values(n, 9);
  std::vector<float> buffer(n, 123.0f);  // garbage: step 1 must overwrite it
  std::vector<double> ref_p(param.begin(), param.end()), ref_buf(n);
  for (int64_t step = 1; step <= 5; ++step) {
    const auto grad = random_values(n, 50 + step);
    const float lr = 0.05f, wd = 0.01f, momentum = 0.9f;
    sgd_update({lr, wd, momentum, step}, param, grad, buffer, no_decay);
    for (size_t i = 0; i < n; ++i) {
      const double d = grad[i] + (in_ranges(i, no_decay) ? 0.0 : wd) * ref_p[i];
      ref_buf[i] = step == 1 ? d : static_cast<double>(momentum) * ref_buf[i] + d;
      ref_p[i] -= static_cast<double>(lr) * ref_buf[i];
    }
  }
  for (size_t i = 0; i < n; ++i) REQUIRE(param[i] == Approx(ref_p[i]).epsilon(1e-5).margin(1e-6));
  // Momentum 0: plain SGD, no buffer needed.
  std::vector<float> p = {1.0f, 2.0f};
  const std::vector<float> g = {0.5f, -1.0f};
  sgd_update({0.1f, 0.0f, 0.0f, 1}, p, g, {});
  CHECK(p == std::vector<float>{0.95f, 2.1f});
}

TEST_CASE("decay ranges are checked") {
  std::vector<float> p(10), g(10), m(10), v(10);
  const std::vector<ElementRange> overlapping = {{0, 5}, {4, 6}};
  CHECK_THROWS_AS(adamw_update({}, {}, p, g, m, v, overlapping), mcpp::Error);
  const std::vector<ElementRange> outside = {{8, 11}};
  CHECK_THROWS_AS(adamw_update({}, {}, p, g, m, v, outside), mcpp::Error);
  std::vector<float> short_grad(9);
  CHECK_THROWS_AS(adamw_update({}, {}, p, short_grad, m, v), mcpp::Error);
}

TEST_CASE("grad norm, clipping and NaN detection") {
  std::vector<float> a = {3.0f, 4.0f};
  std::vector<float> b = {12.0f};
  const double total = sum_of_squares(a) + sum_of_squares(b);  // as if summed across ranks
  CHECK(total == 169.0);
  const double norm = norm_from_sum_of_squares(total);
  CHECK(norm == 13.0);
  const double coeff = clip_coefficient(1.0, norm);
  CHECK(coeff == Approx(1.0 / (13.0 + 1e-6)));
  scale_in_place(a, static_cast<float>(coeff));
  CHECK(a[0] == Approx(3.0 / 13.0));
  CHECK(clip_coefficient(100.0, norm) == 1.0);  // no clipping needed
  CHECK(clip_coefficient(0.0, norm) == 1.0);    // --clip-grad 0 disables clipping
  // fp64 accumulation: 1e6 values of 1e-4 squared would lose digits in fp32.
  std::vector<float> many(1000000, 1e-4f);
  CHECK(sum_of_squares(many) == Approx(1e6 * static_cast<double>(1e-4f) * static_cast<double>(1e-4f)).epsilon(1e-9));
  CHECK_FALSE(has_nan_or_inf(many));
  many[777] = std::numeric_limits<float>::infinity();
  CHECK(has_nan_or_inf(many));
  many[777] = std::nanf("");
  CHECK(has_nan_or_inf(many));
}
