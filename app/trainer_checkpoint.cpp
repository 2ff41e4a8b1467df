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

// The flags a checkpoint must agree with to be loaded, and that `generate` rebuilds the model
// and tokenizer from; the same shape as a --config file.
nlohmann::json args_snapshot(const TrainArgs& args, int64_t vocab_size) {
  const ModelArgs& m = args.model;
  nlohmann::json j;
  j["num-layers"] = *m.num_layers;
  j["hidden-size"] = *m.hidden_size;
  j["ffn-hidden-size"] = args.derived.ffn_hidden_size;
  j["num-attention-heads"] = *m.num_attention_heads;
  j["kv-channels"] = args.derived.kv_channels;
  if (m.group_query_attention) {
    j["group-query-attention"] = true;
    j["num-query-groups"] = m.num_query_groups;
  }
  j["seq-length"] = *m.seq_length;
  j["max-position-embeddings"] = m.max_position_embeddings.value_or(*m.seq_length);
  j["position-embedding-type"] = args.derived.use_rope ? "rope" : "learned_absolute";
  j["rotary-base"] = m.rotary_base;
  j["rotary-percent"] = m.rotary_percent;
  j["normalization"] = m.normalization;
  j["norm-epsilon"] = m.norm_epsilon;
  if (m.swiglu) j["swiglu"] = true;
  if (!m.add_bias_linear) j["disable-bias-linear"] = true;
  if (m.untie_embeddings_and_output_weights) j["untie-embeddings-and-output-weights"] = true;
  j["make-vocab-size-divisible-by"] = m.make_vocab_size_divisible_by;
  j["vocab-size"] = vocab_size;
  j["init-method-std"] = m.init_method_std;
  const DataArgs& d = args.data;
  if (d.tokenizer_type) j["tokenizer-type"] = *d.tokenizer_type;
  if (d.tokenizer_model) j["tokenizer-model"] = std::filesystem::absolute(*d.tokenizer_model).string();
  if (d.vocab_file) j["vocab-file"] = std::filesystem::absolute(*d.vocab_file).string();
  if (d.merge_file) j["merge-file"] = std::filesystem::absolute(*d.merge_file).string();
  if (d.null_tokenizer_eod_id) j["null-tokenizer-eod-id"] = *d.null_tokenizer_eod_id;
  return j;
}

// The architecture keys that must match between the checkpoint and this run.
void check_architecture(const nlohmann::json& saved, const nlohmann::json& current, const std::string& where) {
  for (const char* key : {"num-layers", "hidden-size", "ffn-hidden-size", "num-attention-heads", "kv-channels",
                          "num-query-groups", "position-embedding-type", "normalization", "swiglu",
                          "disable-bias-linear", "untie-embeddings-and-output-weights"}) {
    const nlohmann::json a = saved.contains(key) ? saved[key] : nlohmann::json();
    const nlohmann::json b = current.contains(key) ? current[key] : nlohmann::json();
    check(a == b, where + " was saved with --" + key + " " + (a.is_null() ? "unset" : a.dump()) +
                      " but this run has " + (b.is_null() ? "unset" : b.dump()) +
                      "; use the checkpoint's architecture flags");
  }
}

// Copies rows [begin, end) of `tensor` (row-major, any rank) as a contiguous host pointer.
const float* rows_data(const Tensor& tensor, int64_t row_begin) {
  const int64_t row_elems = tensor.shape().rank() <= 1 ? 1 : tensor.numel() / tensor.dim(0);
  return tensor.data<float>() + row_begin * row_elems;
}

}  // namespace

void Trainer::save_checkpoint() {
  const std::string& dir = *args_.checkpoint.save;
  const auto t0 = std::chrono::steady_clock::now();
  ckpt::CheckpointWriter writer(dir, iteration_);
  const model::ParamBuffer& params = model_->params();
  const bool with_optimizer = !args_.checkpoint.no_save_optim;
  for (int i = 0; i < params.size(); ++i) {
    const model::ParamInfo& info = params.info(i);
    for (const StoredPiece& piece : stored_pieces(info, vocab_size_)) {
      writer.add(piece.key, ckpt::DType::kFloat32, piece.global_shape, piece.offsets, piece.shape,
                 rows_data(params.param(i), piece.local_row_begin));
      if (!with_optimizer) continue;
      for (const std::string& name : optimizer_->state_names()) {
        writer.add(kOptimizerPrefix + name + "." + piece.key, ckpt::DType::kFloat32, piece.global_shape,
                   piece.offsets, piece.shape, rows_data(optimizer_->state(name, i), piece.local_row_begin));
      }
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
    for (const StoredPiece& piece : stored_pieces(info, vocab_size_)) {
      if (piece.is_padding && !(reader.has(piece.key) && reader.info(piece.key).global_shape == piece.global_shape)) {
        skipped_padding = true;  // another vocabulary padding: keep this run's initial rows
        continue;
      }
      reader.check_shape(piece.key, piece.global_shape);
      reader.read(piece.key, piece.offsets, piece.shape, ckpt::DType::kFloat32,
                  const_cast<float*>(rows_data(params.param(i), piece.local_row_begin)));
      if (!load_optimizer) continue;
      for (const std::string& name : optimizer_->state_names()) {
        const std::string key = kOptimizerPrefix + name + "." + piece.key;
        reader.check_shape(key, piece.global_shape);
        reader.read(key, piece.offsets, piece.shape, ckpt::DType::kFloat32,
                    const_cast<float*>(rows_data(optimizer_->state(name, i), piece.local_row_begin)));
      }
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
