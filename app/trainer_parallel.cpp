// Trainer under mpirun (world > 1): Megatron's tensor, pipeline and data parallelism on CPU
// ranks. The model is this rank's TP shard of its pipeline stage; gradients are reduced over
// data parallelism by the GradReducer (per bucket, optionally overlapped with the last backward),
// sequence-parallel and tied-embedding gradients are finalized, and the DistributedOptimizer
// (sharded with --use-distributed-optimizer, replicated without) clips and steps.
#include <cmath>
#include <string>
#include <vector>

#include "app/flags_optim.h"
#include "app/run_config.h"
#include "app/trainer.h"
#include "core/base/error.h"
#include "parallel/finalize_grads.h"
#include "parallel/mpi_runtime.h"
#include "parallel/pipeline_executor.h"
#include "parallel/pipeline_schedule.h"

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
  const int pp = go.sizes.pp;
  ddp.tied_embedding_own_bucket = pp > 1 && tied;

  const model::ModelConfig config = model_config(args_, device_);
  model::PipelineStage stage;
  if (pp > 1) {
    const auto range = parallel::pipeline_layer_range(config.num_layers, pp, 1, groups_->pp_rank(), 0);
    stage = {range.first, range.count, groups_->is_first_pp_stage(), groups_->is_last_pp_stage()};
  }
  model_ = std::make_unique<model::GPTModel>(config, parallel_, model_device(), parallel::ddp_buffer_layout(ddp), stage);

  grad_reducer_ = std::make_unique<parallel::GradReducer>(model_->params(), *groups_->dp_cp.tensor_comm(),
                                                          ddp.use_distributed_optimizer, config.num_layers);
  overlap_grad_reduce_ = ddp.overlap_grad_reduce;
  if (overlap_grad_reduce_) model_->set_backward_hook([this](int part) { grad_reducer_->part_ready(part); });

  parallel::OptimizerOptions oo{adam_config(args_), args_.training.clip_grad, ddp.use_distributed_optimizer};
  comm::Communicator& grad_stats =
      ddp.use_distributed_optimizer ? *groups_->grad_stats.tensor_comm() : *groups_->model_parallel.tensor_comm();
  parallel_optimizer_ = std::make_unique<parallel::DistributedOptimizer>(model_->params(), *groups_->dp_cp.tensor_comm(),
                                                                         grad_stats, groups_->tp_rank(), oo);
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
  model_->zero_grads();
  model_->dropout().training = true;
  // The pipeline executor asks for a micro-batch again when it replays its forward: read the
  // iteration's micro-batches once.
  std::vector<model::MicroBatch> batches;
  for (int mb = 0; mb < num_microbatches; ++mb) {
    std::optional<data::MicroBatch> batch = train_loader_->next();
    check(batch.has_value(), "the training data ran out at iteration " + std::to_string(iteration_ + 1) +
                                 "; this should not happen (the dataset is sized for --train-iters)");
    batches.push_back(model_batch(*batch));
  }
  auto next_batch = [&](int mb) { return batches[static_cast<size_t>(mb)]; };

  BatchLoss local;
  if (groups_->pp.size() == 1) {
    for (int mb = 0; mb < num_microbatches; ++mb) {
      model_->dropout().step = static_cast<uint64_t>(microbatches_run_ + mb);
      const model::LossPair loss = model_->forward(next_batch(mb));
      if (mb == num_microbatches - 1 && overlap_grad_reduce_) grad_reducer_->start_overlap();
      model_->backward(static_cast<float>(1.0 / std::max(loss.num_tokens, 1.0) / num_microbatches));
      local.loss_sum += loss.loss_sum;
      local.num_tokens += loss.num_tokens;
    }
  } else {
    parallel::PipelineIteration it;
    it.num_microbatches = num_microbatches;
    it.microbatch = next_batch;
    it.activation_shape =
        parallel::pipeline_activation_shape(model_->config(), parallel_, *args_.training.micro_batch_size);
    it.first_dropout_step = static_cast<uint64_t>(microbatches_run_);
    if (overlap_grad_reduce_) it.before_last_backward = [this] { grad_reducer_->start_overlap(); };
    const model::LossPair loss = parallel::run_one_f_one_b(*model_, *groups_->pp.comm, it);
    local = {loss.loss_sum, loss.num_tokens};
  }
  microbatches_run_ += num_microbatches;

  if (overlap_grad_reduce_) {
    grad_reducer_->finish();
  } else {
    grad_reducer_->reduce_gradients();
  }
  model_->reduce_sequence_parallel_grads();
  parallel::all_reduce_embedding_grads(model_->params(), groups_->embedding.tensor_comm());

  const BatchLoss loss = sum_over_data_parallel(local);
  record.lm_loss = loss.mean();
  record.loss_is_nan = !std::isfinite(record.lm_loss);
  if (args_.training.check_for_nan_in_loss_and_grad && record.loss_is_nan) {
    throw Error("iteration " + std::to_string(iteration_ + 1) + ": the loss is " +
                (std::isnan(record.lm_loss) ? "NaN" : "infinite") +
                "; lower --lr, check the data, or resume from an earlier checkpoint");
  }
  ++parallel_optimizer_steps_;
  const optim::AdamStep step{static_cast<float>(scheduler_->lr()), static_cast<float>(scheduler_->weight_decay()),
                             parallel_optimizer_steps_};
  const double norm = parallel_optimizer_->step(step);  // a NaN/Inf norm updates nothing
  model_->params().sync_compute_params();               // the layers' bf16 copy (mixed precision)
  if (args_.training.check_for_nan_in_loss_and_grad && !std::isfinite(norm)) {
    throw Error("iteration " + std::to_string(iteration_ + 1) +
                ": the gradient norm is NaN or infinite; lower --lr or resume from an earlier checkpoint");
  }
  record.grad_norm = norm;
  scheduler_->step(*args_.training.global_batch_size);
  record.skipped = false;
  record.loss_scale = 1.0;
}

BatchLoss Trainer::evaluate_batch_parallel(data::GptLoader& loader, bool* exhausted) {
  // Forward-only through the stages: receive the previous stage's activation, run this stage,
  // send the output on. Every rank of a pipeline reads the same micro-batches, so all stop alike.
  BatchLoss local;
  const bool first = groups_->is_first_pp_stage(), last = groups_->is_last_pp_stage();
  comm::Communicator& pp = *groups_->pp.comm;
  const Shape shape =
      parallel::pipeline_activation_shape(model_->config(), parallel_, *args_.training.micro_batch_size);
  for (int64_t mb = 0; mb < args_.derived.num_microbatches; ++mb) {
    std::optional<data::MicroBatch> batch = loader.next();
    if (!batch) {
      *exhausted = true;
      return local;
    }
    Tensor input;
    if (!first) {
      input = Tensor::empty(shape);
      pp.recv(input, pp.rank() - 1);
    }
    const model::LossPair loss = model_->forward(model_batch(*batch), input);
    if (!last) pp.send(model_->stage_output(), pp.rank() + 1);
    local.loss_sum += loss.loss_sum;
    local.num_tokens += loss.num_tokens;
  }
  return local;
}

}  // namespace mcpp::app
