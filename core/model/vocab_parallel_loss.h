#pragma once
// Cross-entropy over logits split along the vocabulary across the TP group (compat §10.4):
// each rank holds logits [N, V_pad/tp] for its contiguous vocabulary range; the row max (MAX),
// the target logit and the exp-sum (SUM) are all-reduced, so every rank gets the same losses
// and its own slice of the gradient. With tp = 1 this is the fused single-rank kernel.
#include "core/base/tensor.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

// logits F32 [N, V_local], labels I64 [N] (global ids in [0, V_local·tp)), loss_mask F32 [N] or
// undefined. Writes lse F32 [N] (global log-sum-exp, kept for backward) and totals F32 [2] =
// (Σ mask·loss, Σ mask).
void vocab_parallel_cross_entropy_forward(const ParallelContext& parallel, const Tensor& logits,
                                          const Tensor& labels, const Tensor& loss_mask, const Tensor& lse,
                                          const Tensor& totals);

// dlogits = (softmax − onehot(label)) · grad_scale · mask for this rank's vocabulary slice;
// dlogits may be logits itself.
void vocab_parallel_cross_entropy_backward(const ParallelContext& parallel, const Tensor& logits,
                                           const Tensor& labels, const Tensor& loss_mask, const Tensor& lse,
                                           float grad_scale, const Tensor& dlogits);

}  // namespace mcpp::model
