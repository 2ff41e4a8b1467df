#pragma once
// RMSNorm over the last dimension: y = x·rstd·γ, rstd = 1/sqrt(mean(x²) + eps).
// NormOptions (eps, zero_centered_gamma) as for LayerNorm.
#include "core/base/tensor.h"
#include "core/kernels/layernorm.h"

namespace mcpp::core {

// y [..., h]; saves rstd [N] (fp32) for backward.
void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd);

// sum = residual + x, then y = rmsnorm(sum), as add_layernorm_forward.
void add_rmsnorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                         const NormOptions& options, const Tensor& sum, const Tensor& y,
                         const Tensor& rstd);

// dx [..., h] overwritten (plus `dresidual` when defined, as layernorm_backward); dgamma [h] +=
// (skipped when undefined).
void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma,
                      const Tensor& dresidual = Tensor());

}  // namespace mcpp::core
