#pragma once
// SGD with momentum as torch.optim.SGD (what Megatron uses for --optimizer sgd): weight decay is
// COUPLED (added to the gradient), no dampening, no Nesterov; the momentum buffer starts as the
// first step's gradient:
//   d = g + wd*p;  buf = (step == 1) ? d : momentum*buf + d;  p -= lr*buf
#include <cstdint>
#include <span>

#include "core/optim/decay_mask.h"

namespace mcpp::optim {

struct SgdStep {
  float lr = 0.0f;
  float weight_decay = 0.0f;
  float momentum = 0.9f;  // --sgd-momentum; 0 disables the buffer
  int64_t step = 1;       // 1-based; step 1 initialises the momentum buffer
};

void sgd_update(const SgdStep& step, std::span<float> param, std::span<const float> grad,
                std::span<float> momentum_buffer, std::span<const ElementRange> no_decay = {});

}  // namespace mcpp::optim
