// Trainer::save_checkpoint / load_checkpoint: the model and optimizer shards through the
// layout-free checkpoint format (app/checkpoint_layout.h), plus the loop's own state.
#include <algorithm>
#include <filesystem>
#include <optional>

#include "app/checkpoint_layout.h"
#include "app/trainer.h"
#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "parallel/mpi_runtime.h"

namespace mcpp::app {
namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
const std::vector<std::string> kAdamStateNames = {"exp_avg", "exp_avg_sq"};

// The parallel optimizer's Adam moments laid out like this rank's parameter buffers, so that the
// moment of parameter k is a view shaped like it (as app::Optimizer::state gives). With the
// distributed optimizer each data-parallel rank owns slices of the buckets: for saving, the
// owned slices are summed over data parallelism (every element is owned by exactly one rank, the
// others add zeros), so the checkpoint stores per-parameter regions like any other layout; after
// loading, each rank copies back the slices it owns.
class FullAdamState {
 public:
  explicit FullAdamState(const model::ParamBuffer& params) : params_(params) {
    for (const model::ParamBufferGroup& group : params.groups()) {
      for (auto* moments : {&exp_avg_, &exp_avg_sq_})
        moments->push_back(Tensor::zeros(group.params.shape(), DType::F32, group.params.device()));
    }
  }

  Tensor state(const std::string& name, int index) const {
    const auto& buffers = name == "exp_avg" ? exp_avg_ : exp_avg_sq_;
    return buffers[params_.group_of(index)].sub(params_.offset_of(index), params_.param(index).shape());
  }

  void gather(const parallel::DistributedOptimizer& optimizer, comm::Communicator* sharded_over) {
    for (const auto& shard : optimizer.shards()) {
      copy(shard.exp_avg, exp_avg_[shard.group].slice(shard.range.begin, shard.range.end));
      copy(shard.exp_avg_sq, exp_avg_sq_[shard.group].slice(shard.range.begin, shard.range.end));
    }
    if (!sharded_over) return;
    for (auto* moments : {&exp_avg_, &exp_avg_sq_}) {
      for (const Tensor& buffer : *moments) sharded_over->all_reduce(buffer);
    }
  }

  void scatter(const parallel::DistributedOptimizer& optimizer) const {
    for (const auto& shard : optimizer.shards()) {
      copy(exp_avg_[shard.group].slice(shard.range.begin, shard.range.end), shard.exp_avg);
      copy(exp_avg_sq_[shard.group].slice(shard.range.begin, shard.range.end), shard.exp_avg_sq);
    }
  }

 private:
  static void copy(const Tensor& from, const Tensor& to) {
    check(from.numel() == to.numel(), "internal: optimizer shard sizes differ");
    to.copy_from(from);
  }

  const model::ParamBuffer& params_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

// The parameter as the checkpoint stores it: the last pipeline stage's tied output-layer copy is
// the word embedding.
model::ParamInfo as_stored(const model::ParamInfo& info) {
  model::ParamInfo stored = info;
  if (info.shared) stored.key = info.init_key;
  return stored;
}

}  // namespace

void Trainer::save_checkpoint() {
  const std::string& dir = *args_.checkpoint.save;
  const auto t0 = std::chrono::steady_clock::now();
  ckpt::SaveOptions options;
  if (parallel_run()) {
    options.rank = groups_->world_rank();
    options.world_size = groups_->world_size();
    options.barrier = [] { parallel::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "checkpoint barrier"); };
  }
  ckpt::CheckpointWriter writer(dir, iteration_, options);
  const model::ParamBuffer& params = model_->params();
  const bool with_optimizer = !args_.checkpoint.no_save_optim;
  std::optional<FullAdamState> parallel_state;
  if (parallel_run() && with_optimizer) {
    parallel_state.emplace(params);
    parallel_state->gather(*parallel_optimizer_,
                           args_.parallel.use_distributed_optimizer ? groups_->dp_cp.tensor_comm() : nullptr);
  }
  for (int i = 0; i < params.size(); ++i) {
    const model::ParamInfo& info = params.info(i);
    if (info.shared) continue;  // the word embedding, written by the first stage
    // One writer per region: data-parallel rank 0, and for TP-replicated parameters TP rank 0.
    const bool designated =
        !parallel_run() || (groups_->dp_rank() == 0 && (info.tp_split_dim >= 0 || groups_->tp_rank() == 0));
    write_shard(writer, info, vocab_size_, "", params.param(i), designated);
    if (!with_optimizer) continue;
    if (parallel_state) {
      for (const std::string& name : kAdamStateNames) {
        write_shard(writer, info, vocab_size_, kOptimizerPrefix + name + ".", parallel_state->state(name, i),
                    designated);
      }
      continue;
    }
    for (const std::string& name : optimizer_->state_names()) {
      write_shard(writer, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
    }
  }
  ckpt::CommonState common;
  common.consumed_train_samples = consumed_train_samples_;
  common.consumed_valid_samples = consumed_valid_samples_;
  common.args = args_snapshot(args_, vocab_size_);
  if (with_optimizer) {
    common.state["optimizer"] = {{"kind", args_.training.optimizer}, {"steps", parallel_run() ? parallel_optimizer_steps_ : optimizer_->steps()}};
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
  std::optional<FullAdamState> parallel_state;
  if (parallel_run() && load_optimizer) parallel_state.emplace(params);
  for (int i = 0; i < params.size(); ++i) {
    const model::ParamInfo info = as_stored(params.info(i));
    skipped_padding |= !read_shard(reader, info, vocab_size_, "", params.param(i));
    if (!load_optimizer) continue;
    if (parallel_state) {
      for (const std::string& name : kAdamStateNames) {
        read_shard(reader, info, vocab_size_, kOptimizerPrefix + name + ".", parallel_state->state(name, i));
      }
      continue;
    }
    for (const std::string& name : optimizer_->state_names()) {
      read_shard(reader, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
    }
  }
  if (parallel_state) parallel_state->scatter(*parallel_optimizer_);
  params.sync_compute_params();
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
    const int64_t steps = state["optimizer"]["steps"].get<int64_t>();
    if (parallel_run()) {
      parallel_optimizer_steps_ = steps;
    } else {
      optimizer_->set_steps(steps);
    }
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
