// Trainer under mpirun (world > 1): Megatron's tensor, pipeline and data parallelism, on CPU
// ranks (MPI) or one GPU per rank (NCCL). The model is this rank's TP shard of its pipeline stage, as one or (interleaved) several
// model chunks (app/trainer_chunks.cpp); gradients are reduced over
// data parallelism by the GradReducer (per bucket, optionally overlapped with the last backward),
// sequence-parallel and tied-embedding gradients are finalized, and the DistributedOptimizer
// (sharded with --use-distributed-optimizer, replicated without) clips and steps.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "app/batch_broadcast.h"
#include "app/run_config.h"
#include "app/trainer.h"
#include "core/base/error.h"
#include "core/kernels/elementwise.h"
#include "parallel/finalize_grads.h"
#include "parallel/mpi_runtime.h"
#include "parallel/pipeline_executor.h"
#include "parallel/pipeline_schedule.h"
#include "parallel/virtual_pipeline.h"

namespace mcpp::app {

void Trainer::setup_parallel(int world_size) {
  const ParallelArgs& p = args_.parallel;
  const bool tied = !args_.model.untie_embeddings_and_output_weights;
  parallel::ProcessGroupOptions go;
  go.sizes.tp = static_cast<int>(p.tensor_model_parallel_size);
  go.sizes.pp = static_cast<int>(p.pipeline_model_parallel_size);
  go.use_tp_pp_dp_mapping = p.use_tp_pp_dp_mapping;
  go.tied_embeddings = tied;
  go.sequence_parallel = p.sequence_parallel;
  go.distributed_timeout_minutes = p.distributed_timeout_minutes;
  go.device = model_device();  // NCCL communicators for the model's tensors on GPUs
  groups_ = std::make_unique<parallel::ProcessGroups>(go);
  check(groups_->world_size() == world_size, "internal: process groups disagree with the world size");
  parallel_ = groups_->parallel_context();

  parallel::DdpOptions ddp;
  ddp.use_distributed_optimizer = p.use_distributed_optimizer;
  ddp.overlap_grad_reduce = p.overlap_grad_reduce;
  ddp.bucket_size = p.ddp_bucket_size;
  ddp.dp_cp_size = groups_->dp_cp.size();
  ddp.pad_for_high_nccl_busbw = p.ddp_pad_buckets_for_high_nccl_busbw;
  if (p.ddp_num_buckets) {
    // Megatron: this rank's parameter count (all its chunks) over --ddp-num-buckets.
    const model::ModelConfig config = model_config(args_, device_);
    int64_t parameters = 0;
    for (int c = 0; c < static_cast<int>(args_.derived.virtual_pipeline_size); ++c) {
      parameters += model::stage_parameter_count(config, parallel_, chunk_stage(c));
    }
    ddp.bucket_size = std::max<int64_t>(1, parameters / *p.ddp_num_buckets);
  }
  const int pp = go.sizes.pp;
  ddp.tied_embedding_own_bucket = pp > 1 && tied;

  overlap_grad_reduce_ = ddp.overlap_grad_reduce;
  build_model_chunks(ddp);
}

BatchLoss Trainer::sum_over_data_parallel(BatchLoss local) const {
  // fp64 sums: the communicator reduces fp32 only, so use the group's MPI handle directly.
  double sums[2] = {local.loss_sum, local.num_tokens};
  auto reduce = [&](const parallel::Group& group) {
    if (group.size() > 1) {
      parallel::check_mpi(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, group.comm->handle()),
                          "loss all-reduce");
    }
  };
  reduce(groups_->dp_cp);
  // Only the last stage has a loss; the sum over the pipeline hands it to every stage (so all
  // ranks take the same NaN decisions).
  reduce(groups_->pp);
  return {sums[0], sums[1]};
}

void Trainer::train_step_parallel(IterationRecord& record) {
  const int num_microbatches = static_cast<int>(args_.derived.num_microbatches);
  const std::vector<model::GPTModel*> chunks = model_chunks();
  for (model::GPTModel* chunk : chunks) {
    chunk->zero_grads();
    chunk->dropout().training = true;
  }
  // The iteration's micro-batches, read once (the pipeline executors ask for them by index).
  std::vector<model::MicroBatch> batches;
  for (int mb = 0; mb < num_microbatches; ++mb) {
    std::optional<model::MicroBatch> batch = next_micro_batch(train_loader_.get());
    check(batch.has_value(), "the training data ran out at iteration " + std::to_string(iteration_ + 1) +
                                 "; this should not happen (the dataset is sized for --train-iters)");
    batches.push_back(std::move(*batch));
  }
  auto next_batch = [&](int mb) { return batches[static_cast<size_t>(mb)]; };

  parallel::PipelineIteration it;
  it.num_microbatches = num_microbatches;
  it.microbatch = next_batch;
  it.activation_shape =
      parallel::pipeline_activation_shape(model_->config(), parallel_, *args_.training.micro_batch_size);
  it.first_dropout_step = static_cast<uint64_t>(microbatches_run_);
  it.loss_scale = loss_scaler_ ? loss_scaler_->scale() : 1.0;
  it.per_token_loss = args_.training.calculate_per_token_loss;
  BatchLoss local;
  if (groups_->pp.size() == 1) {
    for (int mb = 0; mb < num_microbatches; ++mb) {
      model_->dropout().step = it.first_dropout_step + static_cast<uint64_t>(mb);
      const model::LossPair loss = model_->forward(next_batch(mb));
      if (mb == num_microbatches - 1 && overlap_grad_reduce_) grad_reducers_[0]->start_overlap();
      model_->backward(parallel::last_stage_loss_grad_scale(it, loss.num_tokens));
      local.loss_sum += loss.loss_sum;
      local.num_tokens += loss.num_tokens;
    }
  } else if (chunks.size() > 1) {
    parallel::InterleavedIteration interleaved;
    interleaved.pipeline = it;
    interleaved.group_size =
        static_cast<int>(args_.parallel.microbatch_group_size_per_virtual_pipeline_stage.value_or(0));
    if (overlap_grad_reduce_) {
      interleaved.before_last_backward = [this](int chunk) { grad_reducers_[chunk]->start_overlap(); };
    }
    const model::LossPair loss = parallel::run_interleaved_one_f_one_b(chunks, *groups_->pp.tensor_comm(), interleaved);
    local = {loss.loss_sum, loss.num_tokens};
  } else {
    if (overlap_grad_reduce_) it.before_last_backward = [this] { grad_reducers_[0]->start_overlap(); };
    const model::LossPair loss = parallel::run_one_f_one_b(*model_, *groups_->pp.tensor_comm(), it);
    local = {loss.loss_sum, loss.num_tokens};
  }
  microbatches_run_ += num_microbatches;

  for (size_t c = 0; c < chunks.size(); ++c) {
    if (overlap_grad_reduce_) {
      grad_reducers_[c]->finish();
    } else {
      grad_reducers_[c]->reduce_gradients();
    }
    chunks[c]->reduce_sequence_parallel_grads();
  }
  // The word embedding is in the first rank's first chunk, its tied copy in the last rank's last.
  parallel::all_reduce_embedding_grads(
      (groups_->is_first_pp_stage() ? chunks.front() : chunks.back())->params(), groups_->embedding.tensor_comm());

  const BatchLoss loss = sum_over_data_parallel(local);
  record.lm_loss = loss.mean();
  record.loss_is_nan = !std::isfinite(record.lm_loss);
  // --calculate-per-token-loss: the summed gradients are divided by the global token count
  // (Megatron's finalize_model_grads; every rank has it from the loss sums).
  if (it.per_token_loss) {
    const float inverse_tokens = static_cast<float>(1.0 / std::max(loss.num_tokens, 1.0));
    for (model::GPTModel* chunk : chunks) {
      for (const model::ParamBufferGroup& group : chunk->params().groups()) core::scale(group.grads, inverse_tokens);
    }
  }
  std::vector<parallel::DistributedOptimizer*> optimizers;
  for (const auto& optimizer : parallel_optimizers_) optimizers.push_back(optimizer.get());
  bool skip = false;
  if (loss_scaler_) {
    // fp16: unscale, and skip the step on every rank when any rank found an overflow.
    skip = parallel::unscale_together(optimizers, static_cast<float>(loss_scaler_->inverse_scale()));
    loss_scaler_->update(skip);
  } else if (args_.training.check_for_nan_in_loss_and_grad && record.loss_is_nan) {
    throw Error("iteration " + std::to_string(iteration_ + 1) + ": the loss is " +
                (std::isnan(record.lm_loss) ? "NaN" : "infinite") +
                "; lower --lr, check the data, or resume from an earlier checkpoint");
  }
  if (!skip) {
    ++parallel_optimizer_steps_;
    const optim::AdamStep step{static_cast<float>(scheduler_->lr()), static_cast<float>(scheduler_->weight_decay()),
                               parallel_optimizer_steps_};
    // A NaN/Inf norm updates nothing. The step wrote the compute copy of this rank's slices;
    // with --overlap-param-gather it started each bucket's all-gather right after updating it
    // (set_update_order), and the next forward waits for each bucket's updated parameters.
    const double norm = parallel::step_together(optimizers, step);
    if (args_.training.check_for_nan_in_loss_and_grad && !std::isfinite(norm)) {
      throw Error("iteration " + std::to_string(iteration_ + 1) +
                  ": the gradient norm is NaN or infinite; lower --lr or resume from an earlier checkpoint");
    }
    record.grad_norm = norm;
    scheduler_->step(*args_.training.global_batch_size);
  }
  record.skipped = skip;
  record.loss_scale = loss_scaler_ ? loss_scaler_->scale() : 1.0;
}

bool Trainer::stage_uses_data() const {
  return !groups_ || groups_->is_first_pp_stage() || groups_->is_last_pp_stage() || middle_stages_read_data();
}

std::optional<model::MicroBatch> Trainer::next_micro_batch(data::GptLoader* loader) {
  std::optional<model::MicroBatch> batch;
  if (stage_uses_data()) {
    if (reads_data()) {
      check(loader != nullptr, "internal: a reading rank without its loader");
      if (std::optional<data::MicroBatch> read = loader->next()) batch = model_batch(*read);
    }
    batch = broadcast_micro_batch(std::move(batch), groups_->tp.comm->handle());
  }
  if (groups_->pp.size() > 2 && !middle_stages_read_data()) {
    // Middle stages read nothing: the first stage tells them whether its split goes on, so every
    // stage runs (and stops at) the same micro-batches.
    int present = batch.has_value() ? 1 : 0;
    parallel::check_mpi(MPI_Bcast(&present, 1, MPI_INT, 0, groups_->pp.comm->handle()),
                        "end-of-data broadcast over the pipeline group");
    if (!stage_uses_data()) batch = present ? std::optional<model::MicroBatch>(model::MicroBatch{}) : std::nullopt;
  }
  return batch;
}

BatchLoss Trainer::evaluate_batch_parallel(data::GptLoader* loader, bool* exhausted) {
  // Forward-only through the virtual stages. Every rank of a pipeline reads the same
  // micro-batches, so all stop alike.
  BatchLoss local;
  const std::vector<model::GPTModel*> chunks = model_chunks();
  for (model::GPTModel* chunk : chunks) chunk->dropout().training = model_->dropout().training;
  const Shape shape =
      parallel::pipeline_activation_shape(model_->config(), parallel_, *args_.training.micro_batch_size);
  for (int64_t mb = 0; mb < args_.derived.num_microbatches; ++mb) {
    std::optional<model::MicroBatch> batch = next_micro_batch(loader);
    if (!batch) {
      *exhausted = true;
      return local;
    }
    const model::LossPair loss = parallel::forward_through_pipeline(chunks, *groups_->pp.tensor_comm(), *batch, shape);
    local.loss_sum += loss.loss_sum;
    local.num_tokens += loss.num_tokens;
  }
  return local;
}

}  // namespace mcpp::app
