// linear, LayerNorm and RMSNorm: forward against naive formulas, backward against finite
// differences, weight gradients accumulating.
#include <cmath>

#include "core/kernels/layernorm.h"
#include "core/kernels/linear.h"
#include "core/kernels/rmsnorm.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::check_gradient;
using test::poisoned;
using test::random_tensor;
using test::require_close;
using test::weighted_sum;

TEST_CASE("linear forward matches the naive product and backward matches finite differences") {
  const int64_t s = 3, b = 2, in = 5, out = 4;
  Tensor x = random_tensor({s, b, in}, 1);
  Tensor w = random_tensor({out, in}, 2);
  Tensor bias = random_tensor({out}, 3);
  Tensor y = poisoned({s, b, out});
  core::linear_forward(x, w, bias, y);
  Tensor expected = Tensor::empty({s, b, out});
  for (int64_t r = 0; r < s * b; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double sum = bias.data<float>()[o];
      for (int64_t i = 0; i < in; ++i) sum += double(x.data<float>()[r * in + i]) * w.data<float>()[o * in + i];
      expected.data<float>()[r * out + o] = float(sum);
    }
  }
  require_close(y, expected, 1e-5, 1e-5, "linear forward");
  Tensor y_nobias = poisoned({s, b, out});
  core::linear_forward(x, w, Tensor(), y_nobias);
  CHECK(y_nobias.data<float>()[0] == Approx(expected.data<float>()[0] - bias.data<float>()[0]).margin(1e-5));

  Tensor weights = random_tensor({s, b, out}, 4);
  Tensor dx = poisoned({s, b, in});
  // Pre-filled gradients: the kernel must add to them.
  Tensor dw = random_tensor({out, in}, 5);
  Tensor db = random_tensor({out}, 6);
  Tensor dw_before = test::clone(dw), db_before = test::clone(db);
  core::linear_backward(x, w, weights, dx, dw, db);
  auto loss = [&] {
    Tensor probe = Tensor::empty({s, b, out});
    core::linear_forward(x, w, bias, probe);
    return weighted_sum(probe, weights);
  };
  Tensor dw_added = Tensor::empty({out, in}), db_added = Tensor::empty({out});
  for (int64_t i = 0; i < dw.numel(); ++i) dw_added.data<float>()[i] = dw.data<float>()[i] - dw_before.data<float>()[i];
  for (int64_t i = 0; i < db.numel(); ++i) db_added.data<float>()[i] = db.data<float>()[i] - db_before.data<float>()[i];
  check_gradient(x, dx, loss, "linear dx");
  check_gradient(w, dw_added, loss, "linear dW");
  check_gradient(bias, db_added, loss, "linear db");

  // Optional gradients may be skipped.
  Tensor dx_only = poisoned({s, b, in});
  core::linear_backward(x, w, weights, dx_only, Tensor(), Tensor());
  require_close(dx_only, dx, 0, 0, "dx alone");
  CHECK_THROWS_AS(core::linear_forward(x, w, bias, poisoned({s, b, out + 1})), Error);
}

namespace {
void check_norm(bool rms, bool zero_centered) {
  const int64_t rows = 6, h = 7;
  core::NormOptions options{1e-5f, zero_centered};
  Tensor x = random_tensor({2, 3, h}, 10, -2.0f, 2.0f);
  Tensor gamma = random_tensor({h}, 11, 0.5f, 1.5f);
  Tensor beta = random_tensor({h}, 12);
  Tensor y = poisoned({2, 3, h});
  Tensor mean = poisoned({rows});
  Tensor rstd = poisoned({2, 3});
  auto forward = [&](const Tensor& out) {
    if (rms) {
      core::rmsnorm_forward(x, gamma, options, out, rstd);
    } else {
      core::layernorm_forward(x, gamma, beta, options, out, mean, rstd);
    }
  };
  forward(y);

  // Naive formula in fp64.
  Tensor expected = Tensor::empty({2, 3, h});
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data<float>() + r * h;
    double mu = 0, var = 0;
    if (!rms) {
      for (int64_t c = 0; c < h; ++c) mu += row[c];
      mu /= h;
    }
    for (int64_t c = 0; c < h; ++c) var += (row[c] - mu) * (row[c] - mu);
    double inv = 1.0 / std::sqrt(var / h + 1e-5);
    for (int64_t c = 0; c < h; ++c) {
      double g = gamma.data<float>()[c] + (zero_centered ? 1.0 : 0.0);
      double value = (row[c] - mu) * inv * g + (rms ? 0.0 : beta.data<float>()[c]);
      expected.data<float>()[r * h + c] = float(value);
    }
    REQUIRE(rstd.data<float>()[r] == Approx(inv).epsilon(1e-5));
    if (!rms) REQUIRE(mean.data<float>()[r] == Approx(mu).margin(1e-6));
  }
  require_close(y, expected, 1e-5, 1e-5, "norm forward");

  Tensor weights = random_tensor({2, 3, h}, 13);
  Tensor dx = poisoned({2, 3, h});
  Tensor dgamma = Tensor::zeros({h});
  Tensor dbeta = Tensor::zeros({h});
  if (rms) {
    core::rmsnorm_backward(x, gamma, rstd, weights, options, dx, dgamma);
  } else {
    core::layernorm_backward(x, gamma, mean, rstd, weights, options, dx, dgamma, dbeta);
  }
  auto loss = [&] {
    Tensor probe = Tensor::empty({2, 3, h});
    Tensor probe_mean = Tensor::empty({rows}), probe_rstd = Tensor::empty({rows});
    if (rms) {
      core::rmsnorm_forward(x, gamma, options, probe, probe_rstd);
    } else {
      core::layernorm_forward(x, gamma, beta, options, probe, probe_mean, probe_rstd);
    }
    return weighted_sum(probe, weights);
  };
  check_gradient(x, dx, loss, "norm dx");
  check_gradient(gamma, dgamma, loss, "norm dgamma");
  if (!rms) check_gradient(beta, dbeta, loss, "norm dbeta");
}
}  // namespace

TEST_CASE("layernorm forward and backward") {
  check_norm(false, false);
  check_norm(false, true);
}

TEST_CASE("rmsnorm forward and backward") {
  check_norm(true, false);
  check_norm(true, true);
}

TEST_CASE("norm backward adds the residual gradient to dx, and refuses one that aliases dx") {
  const Tensor x = random_tensor({6, 16}, 71), gamma = random_tensor({16}, 72), beta = random_tensor({16}, 73);
  const Tensor dy = random_tensor({6, 16}, 74), residual = random_tensor({6, 16}, 75);
  const core::NormOptions options{1e-5f, false};
  for (bool rms : {false, true}) {
    INFO((rms ? "rmsnorm" : "layernorm"));
    Tensor y = Tensor::empty({6, 16}), mean = Tensor::empty({6}), rstd = Tensor::empty({6});
    if (rms)
      core::rmsnorm_forward(x, gamma, options, y, rstd);
    else
      core::layernorm_forward(x, gamma, beta, options, y, mean, rstd);
    auto backward = [&](const Tensor& dx, const Tensor& dresidual) {
      if (rms)
        core::rmsnorm_backward(x, gamma, rstd, dy, options, dx, Tensor(), dresidual);
      else
        core::layernorm_backward(x, gamma, mean, rstd, dy, options, dx, Tensor(), Tensor(), dresidual);
    };
    Tensor plain = poisoned({6, 16}), fused = poisoned({6, 16});
    backward(plain, Tensor());
    backward(fused, residual);
    for (int64_t i = 0; i < plain.numel(); ++i)
      REQUIRE(fused.data<float>()[i] == plain.data<float>()[i] + residual.data<float>()[i]);
    CHECK_THROWS_WITH(backward(fused, fused), Catch::Contains("must not alias dx"));
  }
}

TEST_CASE("residual-add norm forward equals the add followed by the norm, sum may alias its inputs") {
  const Tensor x = random_tensor({6, 16}, 81), residual = random_tensor({6, 16}, 82);
  const Tensor gamma = random_tensor({16}, 83), beta = random_tensor({16}, 84);
  const core::NormOptions options{1e-5f, false};
  for (bool rms : {false, true}) {
    INFO((rms ? "rmsnorm" : "layernorm"));
    auto fused = [&](const Tensor& res, const Tensor& in, const Tensor& sum, const Tensor& y, const Tensor& mean,
                     const Tensor& rstd) {
      if (rms)
        core::add_rmsnorm_forward(res, in, gamma, options, sum, y, rstd);
      else
        core::add_layernorm_forward(res, in, gamma, beta, options, sum, y, mean, rstd);
    };
    // Reference: the add, then the plain norm of the sum.
    Tensor sum = Tensor::empty({6, 16}), y = Tensor::empty({6, 16}), mean = Tensor::empty({6}),
           rstd = Tensor::empty({6});
    for (int64_t i = 0; i < sum.numel(); ++i) sum.data<float>()[i] = residual.data<float>()[i] + x.data<float>()[i];
    if (rms)
      core::rmsnorm_forward(sum, gamma, options, y, rstd);
    else
      core::layernorm_forward(sum, gamma, beta, options, y, mean, rstd);

    Tensor fsum = poisoned({6, 16}), fy = poisoned({6, 16}), fmean = poisoned({6}), frstd = poisoned({6});
    fused(residual, x, fsum, fy, fmean, frstd);
    // In place: the sum overwrites a copy of the residual.
    Tensor inplace = Tensor::empty({6, 16});
    inplace.copy_from(residual);
    Tensor iy = poisoned({6, 16}), imean = poisoned({6}), irstd = poisoned({6});
    fused(inplace, x, inplace, iy, imean, irstd);
    for (int64_t i = 0; i < sum.numel(); ++i) {
      REQUIRE(fsum.data<float>()[i] == sum.data<float>()[i]);
      REQUIRE(fy.data<float>()[i] == y.data<float>()[i]);
      REQUIRE(inplace.data<float>()[i] == sum.data<float>()[i]);
      REQUIRE(iy.data<float>()[i] == y.data<float>()[i]);
    }
    for (int64_t r = 0; r < 6; ++r) {
      REQUIRE(frstd.data<float>()[r] == rstd.data<float>()[r]);
      if (!rms) REQUIRE(fmean.data<float>()[r] == mean.data<float>()[r]);
    }
    CHECK_THROWS_WITH(fused(residual, x, fy, fy, fmean, frstd), Catch::Contains("sum must not alias y"));
    CHECK_THROWS_WITH(fused(random_tensor({6, 8}, 85), x.view({6, 16}), fsum, fy, fmean, frstd),
                      Catch::Contains("must match x"));
  }
}

TEST_CASE("linear with a residual input equals the linear followed by the add") {
  const Tensor x = random_tensor({5, 12}, 91), w = random_tensor({8, 12}, 92), bias = random_tensor({8}, 93);
  const Tensor residual = random_tensor({5, 8}, 94);
  Tensor expected = Tensor::empty({5, 8});
  core::linear_forward(x, w, bias, expected);
  for (int64_t i = 0; i < expected.numel(); ++i) expected.data<float>()[i] += residual.data<float>()[i];
  Tensor y = poisoned({5, 8});
  core::linear_residual_forward(x, w, bias, residual, y);
  for (int64_t i = 0; i < expected.numel(); ++i) REQUIRE(y.data<float>()[i] == expected.data<float>()[i]);
  CHECK_THROWS_WITH(core::linear_residual_forward(x, w, bias, random_tensor({5, 4}, 95), y),
                    Catch::Contains("must match y"));
  Tensor buffer = Tensor::zeros({41});
  CHECK_THROWS_WITH(core::linear_residual_forward(x, w, bias, buffer.sub(1, {5, 8}), buffer.sub(0, {5, 8})),
                    Catch::Contains("must not overlap y"));
  CHECK_THROWS_WITH(core::linear_residual_forward(x, w, bias, y, y), Catch::Contains("must not overlap y"));
}
