#include "core/optim/adamw.h"

#include <cmath>

#include "core/base/error.h"

namespace mcpp::optim {

void adamw_update(const AdamConfig& config, const AdamStep& step, std::span<float> param,
                  std::span<const float> grad, std::span<float> exp_avg, std::span<float> exp_avg_sq,
                  std::span<const ElementRange> no_decay) {
  const size_t n = param.size();
  check(grad.size() == n && exp_avg.size() == n && exp_avg_sq.size() == n,
        "internal: AdamW spans differ in length");
  check(step.step >= 1, "internal: AdamW step numbers start at 1");
  // Bias corrections in double like the fused kernels' host code, then used in fp32.
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(config.beta1), step.step));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(config.beta2), step.step));
  const float b1 = config.beta1;
  const float b2 = config.beta2;
  for_each_decay_segment(n, no_decay, [&](size_t begin, size_t end, bool decays) {
    const float wd = decays ? step.weight_decay : 0.0f;
    for (size_t i = begin; i < end; ++i) {
      const float g = grad[i];
      const float m = b1 * exp_avg[i] + (1.0f - b1) * g;
      const float v = b2 * exp_avg_sq[i] + (1.0f - b2) * g * g;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      const float denom = std::sqrt(v / bc2) + config.eps;
      const float update = (m / bc1) / denom + wd * param[i];
      param[i] -= step.lr * update;
    }
  });
}

}  // namespace mcpp::optim
