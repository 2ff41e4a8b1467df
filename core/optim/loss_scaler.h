#pragma once
// fp16 loss scaling (Megatron's grad_scaler.py). Constant: the scale never changes. Dynamic:
// on an overflow step the growth counter resets and the hysteresis counter drops by one; once it
// is <= 0 every overflow halves the scale (floored at min_scale). After `growth_interval` clean
// steps in a row the scale doubles and the hysteresis counter is restored. bf16/fp32 use no
// scaler (the log reports 1.0).
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace mcpp::optim {

struct LossScalerConfig {
  bool dynamic = true;
  double initial_scale = 4294967296.0;  // --initial-loss-scale (or --loss-scale when constant)
  double min_scale = 1.0;               // --min-loss-scale
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 1000;       // --loss-scale-window
  int64_t hysteresis = 2;               // --hysteresis
};

struct LossScalerState {
  double scale = 1.0;
  int64_t growth_tracker = 0;
  int64_t hysteresis_tracker = 0;
  bool operator==(const LossScalerState&) const = default;
};
void to_json(nlohmann::json& j, const LossScalerState& state);
void from_json(const nlohmann::json& j, LossScalerState& state);

class LossScaler {
 public:
  explicit LossScaler(LossScalerConfig config);

  double scale() const { return state_.scale; }
  double inverse_scale() const { return 1.0 / state_.scale; }
  // Called once per step with whether any grad was NaN/Inf (after the cross-rank MAX).
  void update(bool found_inf);

  const LossScalerState& state() const { return state_; }
  void restore(const LossScalerState& state);

 private:
  LossScalerConfig config_;
  LossScalerState state_;
};

}  // namespace mcpp::optim
