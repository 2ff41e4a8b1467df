#pragma once
// Learning-rate and weight-decay schedule, the equivalent of Megatron's OptimizerParamScheduler.
// Everything counts in SAMPLES: the training loop calls step(samples_this_iteration) after every
// successful optimizer step (skipped fp16 steps do not advance it). Iteration-based flags are
// converted to samples once, by the caller (see app/train_args: scheduler_config()).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace mcpp::optim {

enum class LrDecayStyle { kConstant, kLinear, kCosine, kInverseSquareRoot, kWSD };
enum class WsdDecayStyle { kExponential, kLinear, kCosine, kMinusSqrt };
enum class WdIncrStyle { kConstant, kLinear, kCosine };

// Megatron's spellings ("inverse-square-root", "WSD", "minus_sqrt", ...). Unknown names throw.
LrDecayStyle parse_lr_decay_style(const std::string& name);
WsdDecayStyle parse_wsd_decay_style(const std::string& name);
WdIncrStyle parse_wd_incr_style(const std::string& name);
std::string to_string(LrDecayStyle style);
std::string to_string(WsdDecayStyle style);
std::string to_string(WdIncrStyle style);

struct ParamSchedulerConfig {
  double init_lr = 0.0;  // --lr-warmup-init
  double max_lr = 0.0;   // --lr
  double min_lr = 0.0;   // --min-lr
  double warmup_steps = 0.0;  // samples; a fraction of decay_steps may make it non-integral
  int64_t decay_steps = 0;    // samples
  LrDecayStyle decay_style = LrDecayStyle::kLinear;
  int64_t wsd_decay_steps = 0;  // samples; used by WSD only
  WsdDecayStyle wsd_decay_style = WsdDecayStyle::kExponential;
  double start_wd = 0.0;
  double end_wd = 0.0;
  int64_t wd_incr_steps = 0;  // samples
  WdIncrStyle wd_incr_style = WdIncrStyle::kConstant;

  // Throws mcpp::Error naming the offending quantity (e.g. warmup >= decay).
  void validate() const;
  bool operator==(const ParamSchedulerConfig&) const = default;
};

// The learning rate after `samples` samples (pure function of the config).
double learning_rate_at(const ParamSchedulerConfig& config, int64_t samples);
// The weight decay after `samples` samples.
double weight_decay_at(const ParamSchedulerConfig& config, int64_t samples);

// What a checkpoint stores: the config it was trained with and the sample counter.
struct ParamSchedulerState {
  ParamSchedulerConfig config;
  int64_t num_steps = 0;
};
void to_json(nlohmann::json& j, const ParamSchedulerState& state);
void from_json(const nlohmann::json& j, ParamSchedulerState& state);

// How a loaded state is reconciled with the command line (Megatron's flags):
// kStrict: every schedule value must match (error names the first mismatch);
// kOverride (--override-opt_param-scheduler): keep the command-line schedule, take the counter;
// kUseCheckpoint (--use-checkpoint-opt_param-scheduler): take the checkpoint's schedule too.
enum class SchedulerRestore { kStrict, kOverride, kUseCheckpoint };

class ParamScheduler {
 public:
  explicit ParamScheduler(ParamSchedulerConfig config);

  // Advances by `samples` (mbs * dp * num_microbatches for a successful step).
  void step(int64_t samples);
  double lr() const { return learning_rate_at(config_, num_steps_); }
  double weight_decay() const { return weight_decay_at(config_, num_steps_); }
  int64_t num_steps() const { return num_steps_; }
  const ParamSchedulerConfig& config() const { return config_; }

  ParamSchedulerState state() const { return {config_, num_steps_}; }
  void restore(const ParamSchedulerState& state, SchedulerRestore mode);

 private:
  ParamSchedulerConfig config_;
  int64_t num_steps_ = 0;
};

}  // namespace mcpp::optim
