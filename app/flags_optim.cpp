#include "app/flags_optim.h"

#include "core/base/error.h"

namespace mcpp::app {

optim::ParamSchedulerConfig scheduler_config(const TrainArgs& args) {
  const TrainingArgs& t = args.training;
  check(t.global_batch_size.has_value(), "internal: scheduler_config before validate_train_args");
  check(t.train_iters || t.train_samples, "one of --train-iters or --train-samples is required");
  check(t.lr.has_value(), "--lr is required");
  const int64_t gbs = *t.global_batch_size;
  optim::ParamSchedulerConfig c;
  c.init_lr = t.lr_warmup_init;
  c.max_lr = *t.lr;
  c.min_lr = t.min_lr;
  c.decay_style = optim::parse_lr_decay_style(t.lr_decay_style);
  c.wsd_decay_style = optim::parse_wsd_decay_style(t.lr_wsd_decay_style);
  c.wd_incr_style = optim::parse_wd_incr_style(t.weight_decay_incr_style);
  if (t.train_iters) {
    c.decay_steps = t.lr_decay_iters.value_or(*t.train_iters) * gbs;
    c.wd_incr_steps = *t.train_iters * gbs;
    c.wsd_decay_steps = t.lr_wsd_decay_iters.value_or(0) * gbs;
    c.warmup_steps = static_cast<double>(t.lr_warmup_iters * gbs);
  } else {
    c.decay_steps = t.lr_decay_samples.value_or(*t.train_samples);
    c.wd_incr_steps = *t.train_samples;
    c.wsd_decay_steps = t.lr_wsd_decay_samples.value_or(0);
    c.warmup_steps = static_cast<double>(t.lr_warmup_samples);
  }
  if (t.lr_warmup_fraction) c.warmup_steps = *t.lr_warmup_fraction * static_cast<double>(c.decay_steps);
  if (c.wd_incr_style == optim::WdIncrStyle::kConstant) {
    c.start_wd = c.end_wd = t.weight_decay;
  } else {
    c.start_wd = t.start_weight_decay.value_or(t.weight_decay);
    c.end_wd = t.end_weight_decay.value_or(t.weight_decay);
  }
  return c;
}

int64_t train_iterations(const TrainArgs& args) {
  const TrainingArgs& t = args.training;
  if (t.train_iters) return *t.train_iters;
  check(t.train_samples && t.global_batch_size, "one of --train-iters or --train-samples is required");
  return *t.train_samples / *t.global_batch_size;
}

optim::AdamConfig adam_config(const TrainArgs& args) {
  const TrainingArgs& t = args.training;
  return {static_cast<float>(t.adam_beta1), static_cast<float>(t.adam_beta2), static_cast<float>(t.adam_eps)};
}

optim::LossScalerConfig loss_scaler_config(const TrainArgs& args) {
  const PrecisionArgs& p = args.precision;
  optim::LossScalerConfig c;
  c.dynamic = !p.loss_scale.has_value();
  c.initial_scale = p.loss_scale.value_or(p.initial_loss_scale);
  c.min_scale = p.min_loss_scale;
  c.growth_interval = static_cast<int64_t>(p.loss_scale_window);
  c.hysteresis = p.hysteresis;
  return c;
}

}  // namespace mcpp::app
