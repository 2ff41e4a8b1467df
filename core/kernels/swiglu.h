#pragma once
// SwiGLU as Megatron: the input's last dimension holds [gate ; up] halves (torch.chunk(2, -1)),
//   y = silu(gate) · up,  silu(g) = g · sigmoid(g).
#include "core/base/tensor.h"

namespace mcpp::core {

// x [..., 2f] -> y [..., f].
void swiglu_forward(const Tensor& x, const Tensor& y);

// dx [..., 2f] overwritten from x [..., 2f] and dy [..., f].
void swiglu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx);

}  // namespace mcpp::core
