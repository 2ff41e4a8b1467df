#include "core/optim/grad_norm.h"

#include <cmath>

namespace mcpp::optim {

double sum_of_squares(std::span<const float> grad) {
  double total = 0.0;
  for (float g : grad) total += static_cast<double>(g) * static_cast<double>(g);
  return total;
}

double norm_from_sum_of_squares(double total) { return std::sqrt(total); }

double clip_coefficient(double clip_grad, double norm) {
  if (clip_grad <= 0.0) return 1.0;
  const double coefficient = clip_grad / (norm + 1.0e-6);
  return coefficient < 1.0 ? coefficient : 1.0;
}

void scale_in_place(std::span<float> grad, float coefficient) {
  if (coefficient == 1.0f) return;
  for (float& g : grad) g *= coefficient;
}

bool has_nan_or_inf(std::span<const float> values) {
  bool bad = false;
  for (float v : values) bad |= !std::isfinite(v);
  return bad;
}

}  // namespace mcpp::optim
