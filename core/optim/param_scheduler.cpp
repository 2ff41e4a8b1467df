#include "core/optim/param_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace mcpp::optim {

namespace {

template <typename Enum, size_t N>
Enum parse_name(const std::string& name, const std::pair<const char*, Enum> (&table)[N],
                const char* what) {
  std::string choices;
  for (const auto& [text, value] : table) {
    if (name == text) return value;
    choices += choices.empty() ? text : std::string(", ") + text;
  }
  throw Error(std::string("unknown ") + what + " '" + name + "'; choose one of: " + choices);
}

template <typename Enum, size_t N>
std::string name_of(Enum value, const std::pair<const char*, Enum> (&table)[N]) {
  for (const auto& [text, v] : table) {
    if (v == value) return text;
  }
  return "?";
}

constexpr std::pair<const char*, LrDecayStyle> kLrStyles[] = {
    {"constant", LrDecayStyle::kConstant},
    {"linear", LrDecayStyle::kLinear},
    {"cosine", LrDecayStyle::kCosine},
    {"inverse-square-root", LrDecayStyle::kInverseSquareRoot},
    {"WSD", LrDecayStyle::kWSD}};
constexpr std::pair<const char*, WsdDecayStyle> kWsdStyles[] = {
    {"exponential", WsdDecayStyle::kExponential},
    {"linear", WsdDecayStyle::kLinear},
    {"cosine", WsdDecayStyle::kCosine},
    {"minus_sqrt", WsdDecayStyle::kMinusSqrt}};
constexpr std::pair<const char*, WdIncrStyle> kWdStyles[] = {
    {"constant", WdIncrStyle::kConstant},
    {"linear", WdIncrStyle::kLinear},
    {"cosine", WdIncrStyle::kCosine}};

double half_cosine(double ratio) { return 0.5 * (std::cos(std::numbers::pi * ratio) + 1.0); }

}  // namespace

LrDecayStyle parse_lr_decay_style(const std::string& n) {
  return parse_name(n, kLrStyles, "--lr-decay-style");
}
WsdDecayStyle parse_wsd_decay_style(const std::string& n) {
  return parse_name(n, kWsdStyles, "--lr-wsd-decay-style");
}
WdIncrStyle parse_wd_incr_style(const std::string& n) {
  return parse_name(n, kWdStyles, "--weight-decay-incr-style");
}
std::string to_string(LrDecayStyle s) { return name_of(s, kLrStyles); }
std::string to_string(WsdDecayStyle s) { return name_of(s, kWsdStyles); }
std::string to_string(WdIncrStyle s) { return name_of(s, kWdStyles); }

void ParamSchedulerConfig::validate() const {
  check(decay_steps > 0, "the LR decay length must be positive: set --lr-decay-iters/--lr-decay-samples "
                         "or --train-iters/--train-samples > 0");
  check(warmup_steps >= 0.0, "the LR warmup length must not be negative");
  check(warmup_steps < static_cast<double>(decay_steps),
        "the LR warmup must be shorter than the LR decay: lower --lr-warmup-iters/--lr-warmup-samples/"
        "--lr-warmup-fraction or raise --lr-decay-iters/--lr-decay-samples");
  check(min_lr <= max_lr, "--min-lr must not exceed --lr");
  if (decay_style == LrDecayStyle::kWSD) {
    check(wsd_decay_steps > 0,
          "--lr-decay-style WSD needs --lr-wsd-decay-iters (or --lr-wsd-decay-samples) > 0");
    check(wsd_decay_steps <= decay_steps,
          "--lr-wsd-decay-iters must not exceed the LR decay length (--lr-decay-iters)");
  }
  if (wd_incr_style == WdIncrStyle::kConstant) {
    check(start_wd == end_wd, "--weight-decay-incr-style constant needs equal start and end weight decay");
  } else {
    check(wd_incr_steps > 0, "a weight-decay increment schedule needs --train-iters/--train-samples > 0");
  }
  check(start_wd >= 0.0 && end_wd >= 0.0, "weight decay must not be negative");
}

double learning_rate_at(const ParamSchedulerConfig& c, int64_t samples) {
  const double s = static_cast<double>(samples);
  if (c.warmup_steps > 0.0 && s <= c.warmup_steps) {
    return c.init_lr + (c.max_lr - c.init_lr) * s / c.warmup_steps;
  }
  if (c.decay_style == LrDecayStyle::kConstant) return c.max_lr;
  if (samples > c.decay_steps) return c.min_lr;
  if (c.decay_style == LrDecayStyle::kInverseSquareRoot) {
    const double warmup = std::max(c.warmup_steps, 1.0);
    const double steps = std::max(s, 1.0);
    return std::max(c.min_lr, c.max_lr * std::sqrt(warmup) / std::sqrt(steps));
  }
  const double ratio = (s - c.warmup_steps) / (static_cast<double>(c.decay_steps) - c.warmup_steps);
  double coeff = 1.0;
  switch (c.decay_style) {
    case LrDecayStyle::kLinear: coeff = 1.0 - ratio; break;
    case LrDecayStyle::kCosine: coeff = half_cosine(ratio); break;
    case LrDecayStyle::kWSD: {
      const int64_t anneal_start = c.decay_steps - c.wsd_decay_steps;
      if (samples <= anneal_start) break;
      const double q = static_cast<double>(samples - anneal_start) / static_cast<double>(c.wsd_decay_steps);
      switch (c.wsd_decay_style) {
        case WsdDecayStyle::kLinear: coeff = 1.0 - q; break;
        case WsdDecayStyle::kCosine: coeff = half_cosine(q); break;
        case WsdDecayStyle::kExponential: coeff = 2.0 * std::pow(0.5, q) - 1.0; break;
        case WsdDecayStyle::kMinusSqrt: coeff = 1.0 - std::sqrt(q); break;
      }
      break;
    }
    default: break;
  }
  return c.min_lr + coeff * (c.max_lr - c.min_lr);
}

double weight_decay_at(const ParamSchedulerConfig& c, int64_t samples) {
  if (samples > c.wd_incr_steps || c.wd_incr_style == WdIncrStyle::kConstant) return c.end_wd;
  const double ratio = static_cast<double>(samples) / static_cast<double>(c.wd_incr_steps);
  const double coeff = c.wd_incr_style == WdIncrStyle::kLinear ? ratio : half_cosine(1.0 - ratio);
  return c.start_wd + coeff * (c.end_wd - c.start_wd);
}

ParamScheduler::ParamScheduler(ParamSchedulerConfig config) : config_(config) { config_.validate(); }

void ParamScheduler::step(int64_t samples) {
  check(samples >= 0, "internal: the LR scheduler cannot step backwards");
  num_steps_ += samples;
}

void ParamScheduler::restore(const ParamSchedulerState& state, SchedulerRestore mode) {
  check(state.num_steps >= 0, "checkpoint: negative LR scheduler step count");
  if (mode == SchedulerRestore::kStrict) {
    const auto& a = config_;
    const auto& b = state.config;
    auto same = [](const char* flag, bool equal) {
      check(equal, std::string("checkpoint's LR/WD schedule differs from the command line in ") + flag +
                       "; pass --override-opt_param-scheduler to keep the command line's or "
                       "--use-checkpoint-opt_param-scheduler to keep the checkpoint's");
    };
    same("--lr", a.max_lr == b.max_lr);
    same("--min-lr", a.min_lr == b.min_lr);
    same("--lr-warmup-*", a.warmup_steps == b.warmup_steps);
    same("--lr-decay-iters/--lr-decay-samples", a.decay_steps == b.decay_steps);
    same("--lr-decay-style", a.decay_style == b.decay_style);
    same("--start-weight-decay/--weight-decay", a.start_wd == b.start_wd);
    same("--end-weight-decay/--weight-decay", a.end_wd == b.end_wd);
    same("--weight-decay-incr-style", a.wd_incr_style == b.wd_incr_style);
    same("--train-iters/--train-samples (weight-decay schedule length)", a.wd_incr_steps == b.wd_incr_steps);
  } else if (mode == SchedulerRestore::kUseCheckpoint) {
    state.config.validate();
    config_ = state.config;
  }
  num_steps_ = state.num_steps;
}

void to_json(nlohmann::json& j, const ParamSchedulerState& s) {
  const auto& c = s.config;
  j = nlohmann::json{{"num_steps", s.num_steps},
                     {"init_lr", c.init_lr},
                     {"max_lr", c.max_lr},
                     {"min_lr", c.min_lr},
                     {"lr_warmup_steps", c.warmup_steps},
                     {"lr_decay_steps", c.decay_steps},
                     {"lr_decay_style", to_string(c.decay_style)},
                     {"wsd_decay_steps", c.wsd_decay_steps},
                     {"lr_wsd_decay_style", to_string(c.wsd_decay_style)},
                     {"start_wd", c.start_wd},
                     {"end_wd", c.end_wd},
                     {"wd_incr_steps", c.wd_incr_steps},
                     {"wd_incr_style", to_string(c.wd_incr_style)}};
}

void from_json(const nlohmann::json& j, ParamSchedulerState& s) {
  auto& c = s.config;
  j.at("num_steps").get_to(s.num_steps);
  j.at("init_lr").get_to(c.init_lr);
  j.at("max_lr").get_to(c.max_lr);
  j.at("min_lr").get_to(c.min_lr);
  j.at("lr_warmup_steps").get_to(c.warmup_steps);
  j.at("lr_decay_steps").get_to(c.decay_steps);
  c.decay_style = parse_lr_decay_style(j.at("lr_decay_style").get<std::string>());
  j.at("wsd_decay_steps").get_to(c.wsd_decay_steps);
  c.wsd_decay_style = parse_wsd_decay_style(j.at("lr_wsd_decay_style").get<std::string>());
  j.at("start_wd").get_to(c.start_wd);
  j.at("end_wd").get_to(c.end_wd);
  j.at("wd_incr_steps").get_to(c.wd_incr_steps);
  c.wd_incr_style = parse_wd_incr_style(j.at("wd_incr_style").get<std::string>());
}

}  // namespace mcpp::optim
