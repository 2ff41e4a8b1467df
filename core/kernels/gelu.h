#pragma once
// GELU, tanh approximation (Megatron's fused bias-GELU):
//   gelu(z) = 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))),  z = x + bias.
#include "core/base/tensor.h"

namespace mcpp::core {

// y [..., f] = gelu(x + bias); bias [f] may be undefined. y may be x itself.
void gelu_forward(const Tensor& x, const Tensor& bias, const Tensor& y);

// dx [..., f] = dy · gelu'(x + bias) (overwritten; may be dy itself); dbias [f] += Σ_rows dx
// (skipped when undefined).
void gelu_backward(const Tensor& x, const Tensor& bias, const Tensor& dy, const Tensor& dx,
                   const Tensor& dbias);

}  // namespace mcpp::core
