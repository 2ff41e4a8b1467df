// The model chunks of a pipeline rank. Without interleaving a rank holds one chunk: its pipeline
// stage (or the whole model). With --num-virtual-stages-per-pipeline-rank (or
// --num-layers-per-virtual-pipeline-stage) it holds vp chunks, chunk c being virtual stage c·P + r
// with the layers Megatron assigns it (parallel/pipeline_layout.h); the embedding lives in chunk 0
// of the first rank, the loss in the last chunk of the last rank. Each chunk is its own GPTModel
// with its own buffers, gradient reducer and optimizer part; the parts clip together.
#include <string>

#include "app/flags_optim.h"
#include "app/pipeline_split.h"
#include "app/run_config.h"
#include "app/trainer.h"
#include "core/base/env_switch.h"
#include "core/base/log.h"

namespace mcpp::app {

void Trainer::build_model_chunks(const parallel::DdpOptions& ddp) {
  const model::ModelConfig config = model_config(args_, device_);
  const int vp = static_cast<int>(args_.derived.virtual_pipeline_size);
  const bool overlap_param_gather = ddp.use_distributed_optimizer && args_.parallel.overlap_param_gather;
  parallel::OptimizerOptions oo{adam_config(args_), args_.training.clip_grad, ddp.use_distributed_optimizer,
                                overlap_param_gather};
  oo.sgd = args_.training.optimizer == "sgd";
  oo.sgd_momentum = static_cast<float>(args_.training.sgd_momentum);
  comm::Communicator& grad_stats =
      ddp.use_distributed_optimizer ? *groups_->grad_stats.tensor_comm() : *groups_->model_parallel.tensor_comm();
  model::BufferLayout layout = parallel::ddp_buffer_layout(ddp);
  // The data-parallel group allocates what it reduces and gathers (symmetric windows on NCCL).
  comm::Communicator& dp_cp = *groups_->dp_cp.tensor_comm();
  layout.allocate_communicated = [&dp_cp, device = model_device()](int64_t numel, DType dtype) {
    return dp_cp.collective_buffer(numel, dtype, device);
  };
  for (int c = 0; c < vp; ++c) {
    const model::PipelineStage stage = chunk_stage(c);
    auto chunk = std::make_unique<model::GPTModel>(config, parallel_, model_device(), layout, stage);
    chunk->dropout().seed = static_cast<uint64_t>(args_.training.seed);
    grad_reducers_.push_back(std::make_unique<parallel::GradReducer>(
        chunk->params(), dp_cp, ddp.use_distributed_optimizer, config.num_layers));
    // Per-token loss: gradients are summed over data parallelism, then divided by the global
    // token count (Megatron's gradient scaling factor 1 instead of 1/dp).
    if (args_.training.calculate_per_token_loss) grad_reducers_.back()->set_average(false);
    if (args_.precision.grad_reduce_in_bf16) grad_reducers_.back()->set_communication_dtype(DType::BF16);
    if (overlap_grad_reduce_) {
      parallel::GradReducer* reducer = grad_reducers_.back().get();
      chunk->set_backward_hook([reducer](int part) { reducer->part_ready(part); });
      // The embedding's bucket is final last; its reduction then overlaps the first layer's
      // weight-gradient GEMMs (MCPP_DEFER_FIRST_LAYER_WGRAD=0 turns this off, for comparison).
      chunk->set_defer_first_layer_weight_grads(dp_cp.size() > 1 &&
                                                env_switch("MCPP_DEFER_FIRST_LAYER_WGRAD", true));
    }
    if (overlap_param_gather) {
      param_gatherers_.push_back(
          std::make_unique<parallel::ParamGatherer>(chunk->params(), dp_cp, config.num_layers));
      parallel::ParamGatherer* gatherer = param_gatherers_.back().get();
      chunk->set_forward_hook([gatherer](int part) { gatherer->part_needed(part); });
    }
    parallel_optimizers_.push_back(std::make_unique<parallel::DistributedOptimizer>(
        chunk->params(), dp_cp, grad_stats, groups_->tp_rank(), oo));
    if (overlap_param_gather) {
      // Each bucket's gather starts right after this rank's slice of it is updated, the buckets
      // the forward needs first updated first: the first gathers run beside the later updates.
      parallel::ParamGatherer* gatherer = param_gatherers_.back().get();
      parallel_optimizers_.back()->set_update_order(
          gatherer->order(), [gatherer](int group, int bucket) { gatherer->start_bucket(group, bucket); });
    }
    if (groups_->world_rank() == 0) {
      // As Megatron's DDP reports it: how the gradients go out (rank 0, one line per chunk).
      size_t buckets = 0;
      for (const model::ParamBufferGroup& group : chunk->params().groups()) buckets += group.buckets.size();
      const int64_t bucket_size = parallel::ddp_bucket_size(ddp);
      log::info("data parallel: {} bucket(s) for gradient {} in model chunk {} (bucket size {})", buckets,
                ddp.use_distributed_optimizer ? "reduce-scatter" : "all-reduce", c,
                bucket_size > 0 ? std::to_string(bucket_size) + " elements" : "unlimited");
    }
    if (c == 0) {
      model_ = std::move(chunk);
    } else {
      later_chunks_.push_back(std::move(chunk));
    }
  }
}

model::PipelineStage Trainer::chunk_stage(int chunk) const {
  if (groups_->pp.size() == 1) return {};
  const int vp = static_cast<int>(args_.derived.virtual_pipeline_size);
  const parallel::LayerRange range = parallel::stage_layer_range(pipeline_split(args_), groups_->pp_rank(), chunk);
  return {range.first, range.count, groups_->is_first_pp_stage() && chunk == 0,
          groups_->is_last_pp_stage() && chunk == vp - 1};
}

std::vector<model::GPTModel*> Trainer::model_chunks() const {
  std::vector<model::GPTModel*> chunks{model_.get()};
  for (const auto& chunk : later_chunks_) chunks.push_back(chunk.get());
  return chunks;
}

}  // namespace mcpp::app
