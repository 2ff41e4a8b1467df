// Cross-entropy (fused softmax), embedding lookup, elementwise helpers.
#include <cmath>

#include "core/kernels/cross_entropy.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/embedding.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::poisoned;
using test::random_tensor;
using test::require_close;

namespace {
void check_cross_entropy(float smoothing) {
  const int64_t n = 6, vocab = 7;
  core::CrossEntropyOptions options{smoothing};
  Tensor logits = random_tensor({3, 2, vocab}, 1, -3.0f, 3.0f);
  Tensor labels = Tensor::empty({3, 2}, DType::I64);
  Tensor mask = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) {
    labels.data<int64_t>()[i] = (i * 5 + 2) % vocab;
    mask.data<float>()[i] = i == 3 ? 0.0f : 1.0f;
  }
  Tensor losses = poisoned({n}), lse = poisoned({n}), totals = poisoned({2});
  core::cross_entropy_forward(logits, labels, mask, options, losses, lse, totals);

  double expected_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * vocab;
    double z = 0, mean_log = 0;
    for (int64_t c = 0; c < vocab; ++c) z += std::exp(double(row[c]));
    for (int64_t c = 0; c < vocab; ++c) mean_log += (row[c] - std::log(z)) / vocab;
    double loss = std::log(z) - row[labels.data<int64_t>()[i]];
    double s = smoothing * vocab / double(vocab - 1);
    if (smoothing > 0) loss = (1 - s) * loss - s * mean_log;
    REQUIRE(losses.data<float>()[i] == Approx(loss).epsilon(1e-5));
    REQUIRE(lse.data<float>()[i] == Approx(std::log(z)).epsilon(1e-5));
    expected_sum += mask.data<float>()[i] * loss;
  }
  CHECK(totals.data<float>()[0] == Approx(expected_sum).epsilon(1e-5));
  CHECK(totals.data<float>()[1] == 5.0f);

  const float grad_scale = 0.25f;
  Tensor dlogits = poisoned({3, 2, vocab});
  core::cross_entropy_backward(logits, labels, mask, lse, grad_scale, options, dlogits);
  test::check_gradient(logits, dlogits, [&] {
    Tensor l = Tensor::empty({n}), e = Tensor::empty({n}), t = Tensor::empty({2});
    core::cross_entropy_forward(logits, labels, mask, options, l, e, t);
    return grad_scale * double(t.data<float>()[0]);
  }, "cross-entropy dlogits", 1e-2, 1e-3, 2e-2);
  // Masked rows get zero gradient; in place gives the same result.
  for (int64_t c = 0; c < vocab; ++c) REQUIRE(dlogits.data<float>()[3 * vocab + c] == 0.0f);
  Tensor in_place = test::clone(logits);
  core::cross_entropy_backward(in_place, labels, mask, lse, grad_scale, options, in_place);
  require_close(in_place, dlogits, 0, 0, "in-place cross-entropy backward");
}
}  // namespace

TEST_CASE("cross-entropy loss, totals and gradient") {
  check_cross_entropy(0.0f);
  check_cross_entropy(0.1f);
  Tensor logits = random_tensor({2, 4}, 3);
  Tensor labels = Tensor::empty({2}, DType::I64);
  labels.data<int64_t>()[0] = 1;
  labels.data<int64_t>()[1] = 4;  // outside the vocabulary
  CHECK_THROWS_AS(core::cross_entropy_forward(logits, labels, Tensor(), {}, poisoned({2}),
                                              poisoned({2}), poisoned({2})),
                  Error);
}

TEST_CASE("embedding lookup over an owned vocab range, gradient accumulated per row") {
  const int64_t vocab_start = 4, rows = 5, h = 3;  // owns ids 4..8
  Tensor weight = random_tensor({rows, h}, 1);
  Tensor ids = Tensor::empty({3, 2}, DType::I64);
  int64_t id_values[] = {4, 8, 2, 9, 6, 4};  // 2 and 9 are not owned; 4 repeats
  for (int i = 0; i < 6; ++i) ids.data<int64_t>()[i] = id_values[i];
  Tensor out = poisoned({3, 2, h});
  core::embedding_forward(ids, weight, vocab_start, out);
  for (int t = 0; t < 6; ++t) {
    int64_t local = id_values[t] - vocab_start;
    for (int c = 0; c < h; ++c) {
      float expected = local >= 0 && local < rows ? weight.data<float>()[local * h + c] : 0.0f;
      REQUIRE(out.data<float>()[t * h + c] == expected);
    }
  }
  Tensor dout = random_tensor({3, 2, h}, 2);
  Tensor dweight = random_tensor({rows, h}, 3);
  Tensor expected = test::clone(dweight);
  for (int t = 0; t < 6; ++t) {
    int64_t local = id_values[t] - vocab_start;
    if (local < 0 || local >= rows) continue;
    for (int c = 0; c < h; ++c) expected.data<float>()[local * h + c] += dout.data<float>()[t * h + c];
  }
  core::embedding_backward(ids, dout, vocab_start, dweight);
  require_close(dweight, expected, 1e-6, 1e-6, "embedding dW");
}

TEST_CASE("elementwise helpers") {
  Tensor a = random_tensor({4, 6}, 1), b = random_tensor({4, 6}, 2);
  Tensor sum = poisoned({4, 6});
  core::add(a, b, sum);
  for (int i = 0; i < 24; ++i) REQUIRE(sum.data<float>()[i] == a.data<float>()[i] + b.data<float>()[i]);

  Tensor y = test::clone(b);
  core::axpy(0.5f, a, y);
  for (int i = 0; i < 24; ++i) REQUIRE(y.data<float>()[i] == b.data<float>()[i] + 0.5f * a.data<float>()[i]);
  core::scale(y, 2.0f);
  for (int i = 0; i < 24; ++i) REQUIRE(y.data<float>()[i] == 2.0f * (b.data<float>()[i] + 0.5f * a.data<float>()[i]));

  Tensor bias = random_tensor({6}, 3);
  Tensor biased = poisoned({4, 6});
  core::bias_add(a, bias, biased);
  for (int i = 0; i < 24; ++i) REQUIRE(biased.data<float>()[i] == a.data<float>()[i] + bias.data<float>()[i % 6]);
  Tensor dbias = test::clone(bias);
  core::bias_grad(a, dbias);
  for (int c = 0; c < 6; ++c) {
    double expected = bias.data<float>()[c];
    for (int r = 0; r < 4; ++r) expected += a.data<float>()[r * 6 + c];
    REQUIRE(dbias.data<float>()[c] == Approx(expected).margin(1e-6));
  }

  double squares = 0;
  for (int i = 0; i < 24; ++i) squares += double(a.data<float>()[i]) * a.data<float>()[i];
  CHECK(core::sum_of_squares(a) == Approx(squares).epsilon(1e-12));
  const Tensor flat = a.view({24});
  const std::vector<Tensor> parts = {flat.sub(0, {7}), flat.sub(7, {0}), flat.sub(10, {14})};
  double parts_squares = 0;
  for (int i : {0, 1, 2, 3, 4, 5, 6}) parts_squares += double(a.data<float>()[i]) * a.data<float>()[i];
  for (int i = 10; i < 24; ++i) parts_squares += double(a.data<float>()[i]) * a.data<float>()[i];
  CHECK(core::sum_of_squares(parts) == Approx(parts_squares).epsilon(1e-12));

  Tensor copy = poisoned({24});
  core::copy(a, copy);
  require_close(copy, a.view({24}), 0, 0, "copy");
  CHECK_THROWS_AS(core::add(a, random_tensor({5}, 4), sum), Error);
}
