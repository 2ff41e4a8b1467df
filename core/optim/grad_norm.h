#pragma once
// Gradient norm, clipping and NaN/Inf detection over flat fp32 spans (Megatron's clip_grads.py).
// The caller sums the local sum of squares across ranks (the grad-stats group) before taking the
// norm; these functions only see what this rank holds.
#include <span>

namespace mcpp::optim {

// Σ g² accumulated in fp64.
double sum_of_squares(std::span<const float> grad);

// sqrt of the (cross-rank) total.
double norm_from_sum_of_squares(double total);

// clip / (norm + 1e-6); 1.0 when clipping is off (clip <= 0) or not needed (coefficient >= 1).
double clip_coefficient(double clip_grad, double norm);

// Multiplies the span by `coefficient` (no-op for 1.0).
void scale_in_place(std::span<float> grad, float coefficient);

// True when any element is NaN or ±Inf.
bool has_nan_or_inf(std::span<const float> values);

}  // namespace mcpp::optim
