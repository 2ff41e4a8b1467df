// Trainer::save_checkpoint / load_checkpoint: the model and optimizer shards through the
// layout-free checkpoint format (app/checkpoint_layout.h), plus the loop's own state.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

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

// The parallel optimizer's states (Adam moments or the SGD momentum buffer) laid out like this
// rank's parameter buffers, so that the state of parameter k is a view shaped like it (as
// app::Optimizer::state gives). With the distributed optimizer each data-parallel rank owns
// slices of the buckets: for saving, the owned slices are summed over data parallelism (every
// element is owned by exactly one rank, the others add zeros), so the checkpoint stores
// per-parameter regions like any other layout; after loading, each rank copies back the slices
// it owns.
class FullOptimizerState {
 public:
  FullOptimizerState(const model::ParamBuffer& params, std::vector<std::string> names)
      : params_(params), names_(std::move(names)), buffers_(names_.size()) {
    for (auto& per_group : buffers_) {
      for (const model::ParamBufferGroup& group : params.groups())
        per_group.push_back(Tensor::zeros(group.params.shape(), DType::F32, group.params.device()));
    }
  }

  const std::vector<std::string>& names() const { return names_; }

  Tensor state(const std::string& name, int index) const {
    return buffers_[slot(name)][params_.group_of(index)].sub(params_.offset_of(index), params_.param(index).shape());
  }

  void gather(const parallel::DistributedOptimizer& optimizer, comm::Communicator* sharded_over) {
    for (const auto& shard : optimizer.shards()) {
      for (size_t n = 0; n < names_.size(); ++n)
        copy(shard.state(names_[n]), buffers_[n][shard.group].slice(shard.range.begin, shard.range.end));
    }
    if (!sharded_over) return;
    for (const auto& per_group : buffers_) {
      for (const Tensor& buffer : per_group) sharded_over->all_reduce(buffer);
    }
  }

  void scatter(const parallel::DistributedOptimizer& optimizer) const {
    for (const auto& shard : optimizer.shards()) {
      for (size_t n = 0; n < names_.size(); ++n)
        copy(buffers_[n][shard.group].slice(shard.range.begin, shard.range.end), shard.state(names_[n]));
    }
  }

 private:
  size_t slot(const std::string& name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    check(it != names_.end(), "internal: unknown optimizer state " + name);
    return static_cast<size_t>(it - names_.begin());
  }
  static void copy(const Tensor& from, const Tensor& to) {
    check(from.numel() == to.numel(), "internal: optimizer shard sizes differ");
    to.copy_from(from);
  }

  const model::ParamBuffer& params_;
  std::vector<std::string> names_;
  std::vector<std::vector<Tensor>> buffers_;  // [state][buffer group]
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
  for (const auto& gatherer : param_gatherers_) gatherer->finish();  // every parameter up to date
  // The distributed optimizer with mixed precision keeps fp32 parameters current on their owners.
  for (const auto& optimizer : parallel_optimizers_) optimizer->gather_main_params();
  ckpt::CheckpointWriter writer(dir, iteration_, options);
  const bool with_optimizer = !args_.checkpoint.no_save_optim;
  const std::vector<model::GPTModel*> chunks = model_chunks();
  for (size_t c = 0; c < chunks.size(); ++c) {
    const model::ParamBuffer& params = chunks[c]->params();
    std::optional<FullOptimizerState> parallel_state;
    if (parallel_run() && with_optimizer) {
      parallel_state.emplace(params, parallel_optimizers_[c]->state_names());
      parallel_state->gather(*parallel_optimizers_[c],
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
        for (const std::string& name : parallel_state->names()) {
          write_shard(writer, info, vocab_size_, kOptimizerPrefix + name + ".", parallel_state->state(name, i),
                      designated);
        }
        continue;
      }
      for (const std::string& name : optimizer_->state_names()) {
        write_shard(writer, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
      }
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

  bool skipped_padding = false;
  const std::vector<model::GPTModel*> chunks = model_chunks();
  for (size_t c = 0; c < chunks.size(); ++c) {
    model::ParamBuffer& params = chunks[c]->params();
    std::optional<FullOptimizerState> parallel_state;
    if (parallel_run() && load_optimizer) parallel_state.emplace(params, parallel_optimizers_[c]->state_names());
    for (int i = 0; i < params.size(); ++i) {
      const model::ParamInfo info = as_stored(params.info(i));
      skipped_padding |= !read_shard(reader, info, vocab_size_, "", params.param(i));
      if (!load_optimizer) continue;
      if (parallel_state) {
        for (const std::string& name : parallel_state->names()) {
          read_shard(reader, info, vocab_size_, kOptimizerPrefix + name + ".", parallel_state->state(name, i));
        }
        continue;
      }
      for (const std::string& name : optimizer_->state_names()) {
        read_shard(reader, info, vocab_size_, kOptimizerPrefix + name + ".", optimizer_->state(name, i));
      }
    }
    if (parallel_state) parallel_state->scatter(*parallel_optimizers_[c]);
    params.sync_compute_params();
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
