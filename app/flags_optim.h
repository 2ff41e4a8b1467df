#pragma once
// The validated flags in core/optim's terms: the LR/WD schedule in samples (Megatron's
// get_optimizer_param_scheduler conversions), Adam settings and the fp16 loss scaler.
#include <cstdint>

#include "app/train_args.h"
#include "core/optim/adamw.h"
#include "core/optim/loss_scaler.h"
#include "core/optim/param_scheduler.h"

namespace mcpp::app {

// With --train-iters every *-iters value is multiplied by the global batch size; with
// --train-samples the *-samples values are used as they are. --lr-decay-iters/samples default to
// the training length; --lr-warmup-fraction is a fraction of the decay length.
optim::ParamSchedulerConfig scheduler_config(const TrainArgs& args);

// --train-iters, or --train-samples / global batch size (rounded down, as Megatron does).
int64_t train_iterations(const TrainArgs& args);

optim::AdamConfig adam_config(const TrainArgs& args);

// Constant scale with --loss-scale, else dynamic (meaningful with --fp16; bf16/fp32 use none).
optim::LossScalerConfig loss_scaler_config(const TrainArgs& args);

}  // namespace mcpp::app
