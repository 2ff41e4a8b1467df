#pragma once
// The (non-distributed) optimizer of one model shard: AdamW or SGD over every fp32 parameter
// group buffer (on the CPU, or with the GPU kernels for a CUDA model), with the fp32 Adam moments
// laid out exactly like the parameters so that the moment of parameter k is the same view into
// the moment buffer as the parameter is into the parameter buffer. Grad norm, clipping and the NaN check follow Megatron's clip_grads.py.
// The distributed optimizer (ZeRO-1 over data parallelism) will shard these same buffers.
#include <string>
#include <vector>

#include "core/model/param_buffer.h"
#include "core/optim/adamw.h"
#include "core/optim/decay_mask.h"

namespace mcpp::app {

struct OptimizerSettings {
  std::string kind = "adam";  // adam | sgd
  optim::AdamConfig adam;
  float sgd_momentum = 0.9f;
};

class Optimizer {
 public:
  Optimizer(model::ParamBuffer& params, OptimizerSettings settings);

  // Σ g² over the gradients this rank counts (tied duplicates excluded), fp64.
  double grad_sum_of_squares() const;
  bool grads_have_nan_or_inf() const;
  void scale_grads(float factor);

  // One update with the scheduler's values; advances the step counter.
  void step(double lr, double weight_decay);

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }

  // Optimizer state of parameter `index`, shaped like the parameter: "exp_avg" and
  // "exp_avg_sq" for Adam, "momentum_buffer" for SGD.
  std::vector<std::string> state_names() const;
  Tensor state(const std::string& name, int index) const;

 private:
  bool on_gpu() const { return params_.device() == Device::CUDA; }
  void step_on_gpu(size_t group, double lr, double weight_decay);

  model::ParamBuffer& params_;
  OptimizerSettings settings_;
  int64_t steps_ = 0;
  // Per buffer group: state buffers (same size as the group's params) and no-decay ranges.
  std::vector<std::vector<Tensor>> group_states_;
  std::vector<std::vector<optim::ElementRange>> no_decay_;
  std::vector<Tensor> decay_masks_;  // per group, on the GPU only
};

}  // namespace mcpp::app
