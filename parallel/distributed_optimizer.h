#pragma once
// AdamW (or SGD with --optimizer sgd) over the gradient buckets of the model's buffers, sharded
// over data-parallel ranks with --use-distributed-optimizer (compat §6.2-6.4) or replicated
// without it.
//
// Sharded: data-parallel rank k owns slice k of every bucket (bucket_shard()); after the
// GradReducer's reduce-scatter only that slice holds reduced gradients. step() then takes the
// gradient norm over the owned slices (SUM over the grad-stats group = every rank with one
// optimizer instance), clips, runs AdamW on the owned slice of the fp32 parameters with Adam
// moments of the slice's size only, writes the slice's compute copy (bf16/fp16 with mixed
// precision), and all-gathers each bucket's compute copy over DP×CP, as Megatron gathers its
// bf16 parameters. The fp32 parameters outside the owned slices then go stale until
// gather_main_params() (before a checkpoint reads them); without mixed precision the fp32
// parameters are what is gathered.
// Replicated: every rank owns every bucket whole; the norm is summed over the model-parallel
// (TP×PP) group and nothing is gathered.
//
// Norms count each gradient once: TP-replicated parameters only on TP rank 0 and the tied
// embedding's duplicate (ParamInfo::shared) not at all.
#include <string>
#include <functional>
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "core/model/param_buffer.h"
#include "core/optim/adamw.h"
#include "parallel/grad_buffer.h"

namespace mcpp::parallel {

struct OptimizerOptions {
  optim::AdamConfig adam;
  double clip_grad = 1.0;  // --clip-grad (0 disables)
  bool use_distributed_optimizer = false;
  // --overlap-param-gather: update() leaves the parameter all-gather to a ParamGatherer.
  bool overlap_param_gather = false;
  bool sgd = false;          // --optimizer sgd (torch.optim.SGD: coupled weight decay, momentum)
  float sgd_momentum = 0.9f;  // --sgd-momentum
};

// The element ranges (relative to a group's buffer, sorted) of the parameters that get no weight
// decay, and of those that count towards the gradient norm on this TP rank.
std::vector<optim::ElementRange> no_decay_ranges(const model::ParamBuffer& params, int group);
std::vector<optim::ElementRange> grad_norm_ranges(const model::ParamBuffer& params, int group, int tp_rank);

class DistributedOptimizer {
 public:
  // One slice of one bucket this rank updates, with its Adam state.
  struct Shard {
    int group = 0;
    int bucket = 0;
    ShardRange range;  // elements of the group's buffers
    Tensor exp_avg, exp_avg_sq;                 // fp32 [range.numel()]; SGD: exp_avg is the momentum buffer
    // The state the checkpoint stores under `name` (one of DistributedOptimizer::state_names()).
    const Tensor& state(const std::string& name) const { return name == "exp_avg_sq" ? exp_avg_sq : exp_avg; }
    std::vector<optim::ElementRange> no_decay;  // relative to range.begin
    std::vector<optim::ElementRange> counted;   // counted in the grad norm, relative to range.begin
    Tensor decay_mask;                          // U8 [range.numel()], GPU buffers only (1 = decays)
  };

  // `dp_cp`: the data-parallel (×CP) group the buckets are sharded over (size 1 = no sharding
  // possible anyway). `grad_stats`: the group the squared norm is summed over (all ranks with the
  // distributed optimizer, the TP×PP group without). Both must outlive the optimizer.
  DistributedOptimizer(const model::ParamBuffer& params, comm::Communicator& dp_cp, comm::Communicator& grad_stats,
                       int tp_rank, const OptimizerOptions& options);

  // One optimizer step on the reduced gradients: returns the global gradient norm before
  // clipping. When that norm is NaN or Inf nothing is updated (on every rank alike) and the
  // norm is returned for the caller to report.
  double step(const optim::AdamStep& step);

  // The global gradient norm of the reduced gradients (also what step() uses).
  double grad_norm() const;

  // The parts of step() for several optimizers that clip together (one per model chunk of an
  // interleaved pipeline rank; step_together below): this rank's Σ g² over its counted slices,
  // and the update of its slices with a given clip coefficient, then the parameter all-gather.
  double local_sum_of_squares() const;
  void update(const optim::AdamStep& step, float clip_coefficient);
  // --overlap-param-gather: update() steps the buckets in `order` (group, bucket index) and calls
  // `updated(group, bucket)` after each, so that a bucket's all-gather starts while the buckets
  // after it are still being updated (the order the next forward needs them in).
  void set_update_order(const std::vector<std::pair<int, int>>& order, std::function<void(int, int)> updated);
  comm::Communicator& grad_stats() const { return grad_stats_; }
  double clip_grad() const { return options_.clip_grad; }
  Device device() const { return params_.device(); }

  // Sharded with mixed precision: all-gathers the fp32 parameters, which the step leaves current
  // on their owning rank only (blocking; before anything reads every main parameter).
  void gather_main_params();

  const std::vector<Shard>& shards() const { return shards_; }
  // The per-parameter states as the single-process optimizer names them in checkpoints.
  std::vector<std::string> state_names() const;

  // fp16 loss scaling: multiplies this rank's slices of the gradients by `inverse_scale` and
  // returns whether any of them is NaN or Inf here (unscale_together reduces that over ranks).
  bool unscale_and_find_inf(float inverse_scale);

 private:
  void update_shard(Shard& shard, const optim::AdamStep& step, float clip_coefficient);
  void step_on_gpu(Shard& shard, const optim::AdamStep& step, float clip_coefficient);
  const model::ParamBuffer& params_;
  comm::Communicator& dp_cp_;
  comm::Communicator& grad_stats_;
  OptimizerOptions options_;
  std::vector<Shard> shards_;
  std::vector<int> update_order_;                // indices into shards_
  std::function<void(int, int)> bucket_updated_;  // set_update_order's hook, or empty
};

// The buffer the step's parameter all-gather moves: the compute copy with mixed precision, else
// the fp32 parameters themselves.
const Tensor& gathered_params(const model::ParamBufferGroup& group);

// One step of several optimizers over disjoint parameters (the model chunks of an interleaved
// pipeline rank) with one gradient norm over all of them, as Megatron's single optimizer over all
// chunks: returns that norm; nothing is updated when it is NaN or Inf. All must share grad_stats.
double step_together(const std::vector<DistributedOptimizer*>& optimizers, const optim::AdamStep& step);

// Megatron's fp16 step start: unscale every optimizer's gradient slices and MAX-reduce the
// found-inf flag over the grad-stats group, so every rank skips the step alike.
bool unscale_together(const std::vector<DistributedOptimizer*>& optimizers, float inverse_scale);

}  // namespace mcpp::parallel
