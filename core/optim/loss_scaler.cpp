#include "core/optim/loss_scaler.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace mcpp::optim {

LossScaler::LossScaler(LossScalerConfig config) : config_(config) {
  check(config_.initial_scale > 0.0, "the loss scale must be positive (--loss-scale/--initial-loss-scale)");
  check(config_.min_scale > 0.0, "--min-loss-scale must be positive");
  check(config_.growth_interval > 0, "--loss-scale-window must be positive");
  check(config_.hysteresis > 0, "--hysteresis must be positive");
  state_ = {config_.initial_scale, 0, config_.hysteresis};
}

void LossScaler::update(bool found_inf) {
  if (!config_.dynamic) return;
  if (found_inf) {
    state_.growth_tracker = 0;
    state_.hysteresis_tracker -= 1;
    if (state_.hysteresis_tracker <= 0) {
      state_.scale = std::max(state_.scale * config_.backoff_factor, config_.min_scale);
    }
    return;
  }
  state_.growth_tracker += 1;
  if (state_.growth_tracker == config_.growth_interval) {
    state_.growth_tracker = 0;
    state_.hysteresis_tracker = config_.hysteresis;
    state_.scale *= config_.growth_factor;
  }
}

void LossScaler::restore(const LossScalerState& state) {
  check(state.scale > 0.0, "checkpoint: loss scale must be positive");
  // A constant scaler keeps the command line's scale, as Megatron's ConstantGradScaler does.
  if (config_.dynamic) state_ = state;
}

void to_json(nlohmann::json& j, const LossScalerState& s) {
  j = nlohmann::json{{"scale", s.scale},
                     {"growth_tracker", s.growth_tracker},
                     {"hysteresis_tracker", s.hysteresis_tracker}};
}

void from_json(const nlohmann::json& j, LossScalerState& s) {
  j.at("scale").get_to(s.scale);
  j.at("growth_tracker").get_to(s.growth_tracker);
  j.at("hysteresis_tracker").get_to(s.hysteresis_tracker);
}

}  // namespace mcpp::optim
