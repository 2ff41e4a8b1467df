// Trainer::save_checkpoint / load_checkpoint: the model and optimizer shards through the
// layout-free checkpoint format (app/checkpoint_layout.h), plus the loop's own state.
#include <filesystem>

#include "app/checkpoint_layout.h"
#include "app/trainer.h"
#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "core/base/error.h"
#include "core/base/log.h"

namespace mcpp::app {
namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";

}  // namespace

void Trainer::save_checkpoint() {
  const std::string& dir = *args_.checkpoint.save;
  const auto t0 = std::chrono::steady_clock::now();
  ckpt::CheckpointWriter writer(dir, iteration_);
  const model::ParamBuffer& params = model_->params();
  const bool with_optimizer = !args_.checkpoint.no_save_optim;
  for (int i = 0; i < params.size(); ++i) {
    const model::ParamInfo& info = params.info(i);
    write_shard(writer, info, vocab_size_, "", params.param(i));
    if (!with_optimizer) continue;
    for (const std::string& name : optimizer_->state_names()) {
      write_shard(writer, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
    }
  }
  ckpt::CommonState common;
  common.consumed_train_samples = consumed_train_samples_;
  common.consumed_valid_samples = consumed_valid_samples_;
  common.args = args_snapshot(args_, vocab_size_);
  if (with_optimizer) {
    common.state["optimizer"] = {{"kind", args_.training.optimizer}, {"steps", optimizer_->steps()}};
    common.state["opt_param_scheduler"] = scheduler_->state();
    if (loss_scaler_) common.state["grad_scaler"] = loss_scaler_->state();
  }
  if (!args_.checkpoint.no_save_rng) {
    common.state["rng"] = {{"seed", args_.training.seed}, {"dropout_microbatches", microbatches_run_}};
  }
  writer.set_common(std::move(common));
  writer.commit();
  last_saved_iteration_ = iteration_;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("saved checkpoint at iteration {} to {} in {:.2f} s", iteration_, dir, seconds);
}

void Trainer::load_checkpoint() {
  const std::string& dir = *args_.checkpoint.load;
  if (!ckpt::latest_iteration(dir)) {
    log::warn("--load {}: no checkpoint found (no latest_checkpointed_iteration.txt); starting from random "
              "initialisation", dir);
    return;
  }
  const ckpt::CheckpointReader reader = ckpt::CheckpointReader::open(dir);
  const std::string where = reader.directory().string();
  check_architecture(reader.common().args, args_snapshot(args_, vocab_size_), where);

  const bool finetune = args_.checkpoint.finetune;
  const bool load_optimizer = !finetune && !args_.checkpoint.no_load_optim;
  const bool load_rng = !finetune && !args_.checkpoint.no_load_rng;
  const auto& state = reader.common().state;
  if (load_optimizer) {
    check(state.contains("optimizer") && state["optimizer"]["kind"] == args_.training.optimizer,
          where + " holds no " + args_.training.optimizer +
              " optimizer state (saved with --no-save-optim or another --optimizer); add --no-load-optim");
  }

  model::ParamBuffer& params = model_->params();
  bool skipped_padding = false;
  for (int i = 0; i < params.size(); ++i) {
    const model::ParamInfo& info = params.info(i);
    skipped_padding |= !read_shard(reader, info, vocab_size_, "", params.param(i));
    if (!load_optimizer) continue;
    for (const std::string& name : optimizer_->state_names()) {
      read_shard(reader, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
    }
  }
  if (skipped_padding) log::info_once("vocabulary padding differs from the checkpoint's: padded rows keep their initial values");

  if (finetune) {
    log::info("loaded weights from {} (--finetune: iteration, optimizer and RNG start fresh)", where);
    return;
  }
  iteration_ = reader.iteration();
  last_saved_iteration_ = iteration_;
  consumed_train_samples_ = reader.common().consumed_train_samples;
  consumed_valid_samples_ = reader.common().consumed_valid_samples;
  if (load_optimizer) {
    optimizer_->set_steps(state["optimizer"]["steps"].get<int64_t>());
    scheduler_->restore(state["opt_param_scheduler"].get<optim::ParamSchedulerState>(),
                        args_.training.override_opt_param_scheduler       ? optim::SchedulerRestore::kOverride
                        : args_.training.use_checkpoint_opt_param_scheduler ? optim::SchedulerRestore::kUseCheckpoint
                                                                          : optim::SchedulerRestore::kStrict);
    if (loss_scaler_ && state.contains("grad_scaler")) {
      loss_scaler_->restore(state["grad_scaler"].get<optim::LossScalerState>());
    }
  } else {
    // Megatron without optimizer state: the schedule restarts from the consumed samples.
    scheduler_->step(consumed_train_samples_);
  }
  if (load_rng && state.contains("rng")) {
    microbatches_run_ = state["rng"]["dropout_microbatches"].get<int64_t>();
  } else {
    microbatches_run_ = iteration_ * args_.derived.num_microbatches;
  }
  log::info("loaded checkpoint from {} at iteration {}", where, iteration_);
}

}  // namespace mcpp::app
