#include "core/optim/sgd.h"

#include "core/base/error.h"

namespace mcpp::optim {

void sgd_update(const SgdStep& step, std::span<float> param, std::span<const float> grad,
                std::span<float> momentum_buffer, std::span<const ElementRange> no_decay) {
  const size_t n = param.size();
  check(grad.size() == n, "internal: SGD spans differ in length");
  const bool use_momentum = step.momentum != 0.0f;
  check(!use_momentum || momentum_buffer.size() == n, "internal: SGD momentum buffer has the wrong length");
  check(step.step >= 1, "internal: SGD step numbers start at 1");
  for_each_decay_segment(n, no_decay, [&](size_t begin, size_t end, bool decays) {
    const float wd = decays ? step.weight_decay : 0.0f;
    for (size_t i = begin; i < end; ++i) {
      float d = grad[i] + wd * param[i];
      if (use_momentum) {
        d = step.step == 1 ? d : step.momentum * momentum_buffer[i] + d;
        momentum_buffer[i] = d;
      }
      param[i] -= step.lr * d;
    }
  });
}

}  // namespace mcpp::optim
