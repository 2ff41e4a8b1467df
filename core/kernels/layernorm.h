#pragma once
// LayerNorm over the last dimension: y = (x − mean)·rstd·γ + β, rstd = 1/sqrt(var + eps)
// (biased variance, as torch). Rows: x [..., h] is N = numel / h rows.
// zero_centered_gamma (Megatron's --apply-layernorm-1p) uses (1 + γ) in place of γ.
#include "core/base/tensor.h"

namespace mcpp::core {

struct NormOptions {
  float eps = 1e-5f;
  bool zero_centered_gamma = false;
};

// y [..., h]; saves mean [N] and rstd [N] (fp32) for backward.
void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const NormOptions& options, const Tensor& y, const Tensor& mean,
                       const Tensor& rstd);

// The residual add before a pre-norm, fused: sum = residual + x (stored in sum's dtype), then
// y = layernorm(sum) with its mean/rstd, exactly as `add` followed by layernorm_forward(sum, ...)
// (one pass on the GPU). residual, x and sum share shape and dtype; sum may alias residual or x,
// never y.
void add_layernorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, const NormOptions& options, const Tensor& sum,
                           const Tensor& y, const Tensor& mean, const Tensor& rstd);

// dx [..., h] overwritten; dgamma [h] += and dbeta [h] += (each skipped when undefined).
// `dresidual` (optional, like dy, not aliasing dx) is added to dx: the gradient that also reaches
// the norm's input through a residual connection, fused into the same pass on the GPU.
void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                        const Tensor& rstd, const Tensor& dy, const NormOptions& options,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dresidual = Tensor());

}  // namespace mcpp::core
