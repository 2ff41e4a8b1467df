#pragma once
// AdamW over flat fp32 spans, as Megatron's default optimizer (apex/TE FusedAdam in AdamW mode,
// equal to torch.optim.AdamW): decoupled weight decay, bias correction with a step counter per
// parameter group. Works on any slice of a buffer, so the distributed optimizer calls it on the
// shard a rank owns. Per element (math in fp32, like the fused kernels):
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//   p -= lr * ( (m/bc1) / (sqrt(v/bc2) + eps) + wd*p ),   bc_i = 1 - b_i^step
#include <cstdint>
#include <span>

#include "core/optim/decay_mask.h"

namespace mcpp::optim {

struct AdamConfig {
  float beta1 = 0.9f;   // --adam-beta1
  float beta2 = 0.999f; // --adam-beta2
  float eps = 1e-8f;    // --adam-eps
};

// The per-step values: learning rate and weight decay from the scheduler, and the 1-based step
// number of the parameter group (incremented once per successful optimizer step).
struct AdamStep {
  float lr = 0.0f;
  float weight_decay = 0.0f;
  int64_t step = 1;
};

// Updates param, exp_avg, exp_avg_sq in place from grad. Elements inside `no_decay` get no
// weight decay. All spans have the same length (checked).
void adamw_update(const AdamConfig& config, const AdamStep& step, std::span<float> param,
                  std::span<const float> grad, std::span<float> exp_avg, std::span<float> exp_avg_sq,
                  std::span<const ElementRange> no_decay = {});

}  // namespace mcpp::optim
