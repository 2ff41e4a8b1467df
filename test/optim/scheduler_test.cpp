#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/optim/param_scheduler.h"

using namespace mcpp::optim;

namespace {

// Megatron's get_lr / get_wd restated step by step, independently of the implementation.
double reference_lr(const ParamSchedulerConfig& c, int64_t step) {
  const double s = static_cast<double>(step);
  const double W = c.warmup_steps;
  const double D = static_cast<double>(c.decay_steps);
  if (W > 0 && s <= W) return c.init_lr + (c.max_lr - c.init_lr) * (s / W);
  if (c.decay_style == LrDecayStyle::kConstant) return c.max_lr;
  if (s > D) return c.min_lr;
  if (c.decay_style == LrDecayStyle::kInverseSquareRoot) {
    double lr = c.max_lr * std::sqrt(W < 1 ? 1.0 : W) / std::sqrt(s < 1 ? 1.0 : s);
    return lr < c.min_lr ? c.min_lr : lr;
  }
  const double r = (s - W) / (D - W);
  double coeff = 0;
  const double pi = std::acos(-1.0);
  if (c.decay_style == LrDecayStyle::kLinear) coeff = 1 - r;
  if (c.decay_style == LrDecayStyle::kCosine) coeff = (std::cos(pi * r) + 1) / 2;
  if (c.decay_style == LrDecayStyle::kWSD) {
    const double start = D - static_cast<double>(c.wsd_decay_steps);
    if (s <= start) {
      coeff = 1;
    } else {
      const double q = (s - start) / static_cast<double>(c.wsd_decay_steps);
      switch (c.wsd_decay_style) {
        case WsdDecayStyle::kLinear: coeff = 1 - q; break;
        case WsdDecayStyle::kCosine: coeff = (std::cos(pi * q) + 1) / 2; break;
        case WsdDecayStyle::kExponential: coeff = 2 * std::pow(0.5, q) - 1; break;
        case WsdDecayStyle::kMinusSqrt: coeff = 1 - std::sqrt(q); break;
      }
    }
  }
  return c.min_lr + coeff * (c.max_lr - c.min_lr);
}

double reference_wd(const ParamSchedulerConfig& c, int64_t step) {
  if (step > c.wd_incr_steps) return c.end_wd;
  if (c.wd_incr_style == WdIncrStyle::kConstant) return c.end_wd;
  const double r = static_cast<double>(step) / static_cast<double>(c.wd_incr_steps);
  const double coeff = c.wd_incr_style == WdIncrStyle::kLinear ? r : (std::cos(std::acos(-1.0) * (1 - r)) + 1) / 2;
  return c.start_wd + coeff * (c.end_wd - c.start_wd);
}

ParamSchedulerConfig base(LrDecayStyle style, double warmup) {
  ParamSchedulerConfig c;
  c.init_lr = 1e-6;
  c.max_lr = 3e-4;
  c.min_lr = 3e-5;
  c.warmup_steps = warmup;
  c.decay_steps = 64000;
  c.decay_style = style;
  c.wsd_decay_steps = 16000;
  c.start_wd = 0.01;
  c.end_wd = 0.01;
  c.wd_incr_steps = 80000;
  return c;
}

}  // namespace

TEST_CASE("LR matches Megatron's formula at many points for every style") {
  for (LrDecayStyle style : {LrDecayStyle::kConstant, LrDecayStyle::kLinear, LrDecayStyle::kCosine,
                             LrDecayStyle::kInverseSquareRoot, LrDecayStyle::kWSD}) {
    for (double warmup : {0.0, 3200.0, 0.015 * 64000}) {  // the last one: a warmup fraction
      for (WsdDecayStyle wsd : {WsdDecayStyle::kExponential, WsdDecayStyle::kLinear, WsdDecayStyle::kCosine,
                                WsdDecayStyle::kMinusSqrt}) {
        ParamSchedulerConfig c = base(style, warmup);
        c.wsd_decay_style = wsd;
        ParamScheduler scheduler(c);
        INFO(to_string(style) << " warmup " << warmup << " wsd " << to_string(wsd));
        for (int64_t step = 0; step <= 80000; step += 160) {
          INFO("step " << step);
          REQUIRE(scheduler.num_steps() == step);
          CHECK(scheduler.lr() == Approx(reference_lr(c, step)).epsilon(1e-12).margin(1e-18));
          scheduler.step(160);
        }
      }
    }
  }
}

TEST_CASE("LR hand-checked points") {
  ParamSchedulerConfig c = base(LrDecayStyle::kLinear, 1000);
  c.init_lr = 0.0;
  CHECK(learning_rate_at(c, 0) == 0.0);
  CHECK(learning_rate_at(c, 500) == Approx(1.5e-4));
  CHECK(learning_rate_at(c, 1000) == Approx(3e-4));
  CHECK(learning_rate_at(c, 32500) == Approx(3e-5 + 0.5 * 2.7e-4));
  CHECK(learning_rate_at(c, 64000) == Approx(3e-5));
  CHECK(learning_rate_at(c, 64001) == 3e-5);
  c.decay_style = LrDecayStyle::kCosine;
  CHECK(learning_rate_at(c, 32500) == Approx(3e-5 + 0.5 * 2.7e-4));
  c.decay_style = LrDecayStyle::kWSD;
  c.wsd_decay_style = WsdDecayStyle::kExponential;
  CHECK(learning_rate_at(c, 48000) == Approx(3e-4));  // stable until decay - wsd
  CHECK(learning_rate_at(c, 64000) == Approx(3e-5));  // 2*0.5 - 1 = 0
  c.decay_style = LrDecayStyle::kInverseSquareRoot;
  CHECK(learning_rate_at(c, 4000) == Approx(3e-4 * std::sqrt(1000.0 / 4000.0)));
}

TEST_CASE("weight-decay increment schedules") {
  for (WdIncrStyle style : {WdIncrStyle::kConstant, WdIncrStyle::kLinear, WdIncrStyle::kCosine}) {
    ParamSchedulerConfig c = base(LrDecayStyle::kLinear, 0);
    c.wd_incr_style = style;
    if (style != WdIncrStyle::kConstant) {
      c.start_wd = 0.0;
      c.end_wd = 0.1;
    }
    for (int64_t step = 0; step <= 90000; step += 777) {
      CHECK(weight_decay_at(c, step) == Approx(reference_wd(c, step)).margin(1e-15));
    }
  }
  ParamSchedulerConfig linear = base(LrDecayStyle::kLinear, 0);
  linear.wd_incr_style = WdIncrStyle::kLinear;
  linear.start_wd = 0.0;
  linear.end_wd = 0.1;
  CHECK(weight_decay_at(linear, 40000) == Approx(0.05));
  linear.wd_incr_style = WdIncrStyle::kCosine;
  CHECK(weight_decay_at(linear, 40000) == Approx(0.05));
  CHECK(weight_decay_at(linear, 0) == Approx(0.0).margin(1e-15));
}

TEST_CASE("scheduler config errors") {
  auto message = [](ParamSchedulerConfig c) {
    try {
      c.validate();
    } catch (const mcpp::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  ParamSchedulerConfig c = base(LrDecayStyle::kWSD, 64000);
  CHECK(message(c).find("the LR warmup must be shorter than the LR decay") == 0);
  c = base(LrDecayStyle::kWSD, 0);
  c.wsd_decay_steps = 0;
  CHECK(message(c).find("--lr-decay-style WSD needs --lr-wsd-decay-iters") == 0);
  c = base(LrDecayStyle::kLinear, 0);
  c.start_wd = 0.0;
  CHECK(message(c).find("--weight-decay-incr-style constant needs equal") == 0);
  CHECK_THROWS_AS(parse_lr_decay_style("exp"), mcpp::Error);
  CHECK(parse_lr_decay_style("inverse-square-root") == LrDecayStyle::kInverseSquareRoot);
  CHECK(parse_wsd_decay_style("minus_sqrt") == WsdDecayStyle::kMinusSqrt);
}

TEST_CASE("scheduler state round trip and restore modes") {
  ParamSchedulerConfig c = base(LrDecayStyle::kCosine, 3200);
  ParamScheduler scheduler(c);
  scheduler.step(12345);
  const nlohmann::json saved = scheduler.state();
  ParamSchedulerState loaded = saved.get<ParamSchedulerState>();
  CHECK(loaded.num_steps == 12345);
  CHECK(loaded.config == c);

  ParamScheduler same(c);
  same.restore(loaded, SchedulerRestore::kStrict);
  CHECK(same.num_steps() == 12345);
  CHECK(same.lr() == scheduler.lr());

  ParamSchedulerConfig changed = c;
  changed.max_lr = 1e-3;
  ParamScheduler strict(changed);
  try {
    strict.restore(loaded, SchedulerRestore::kStrict);
    FAIL("expected an error");
  } catch (const mcpp::Error& e) {
    CHECK(std::string(e.what()).find("differs from the command line in --lr;") != std::string::npos);
  }
  ParamScheduler overriding(changed);
  overriding.restore(loaded, SchedulerRestore::kOverride);
  CHECK(overriding.config().max_lr == 1e-3);
  CHECK(overriding.num_steps() == 12345);
  ParamScheduler from_checkpoint(changed);
  from_checkpoint.restore(loaded, SchedulerRestore::kUseCheckpoint);
  CHECK(from_checkpoint.config() == c);
}
