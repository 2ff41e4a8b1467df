#pragma once
// Rotary position embedding as Megatron's non-interleaved "rotate half" on [s, b, n, d]:
//   rot_dim = d · rotary_percent (even); inv_freq[k] = base^(−2k / rot_dim), k < rot_dim / 2;
//   θ = (position / seq_len_interpolation_factor) · inv_freq[k mod rot_dim/2] for dim k < rot_dim;
//   y[:rot] = x[:rot]·cos θ + rotate_half(x[:rot])·sin θ, rotate_half(x) = [−x₂ ; x₁];
//   y[rot:] = x[rot:] (passed through).
// Positions come per (s, b) so reset position ids (per-document restarts) and context-parallel
// shards (global positions) just work.
#include "core/base/tensor.h"

namespace mcpp::core {

struct RopeOptions {
  float base = 10000.0f;
  float rotary_percent = 1.0f;
  float seq_len_interpolation_factor = 1.0f;
};

// x, y [s, b, n, d]; positions I64 [s, b], or undefined for position = s index. y may be x.
void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y);

// dx [s, b, n, d] from dy (the rotation's transpose: rotation by −θ). dx may be dy.
void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx);

}  // namespace mcpp::core
