#pragma once
// Fused softmax cross-entropy over the vocabulary; probabilities are never stored.
//   loss_n = lse_n − logits[n, label_n],  lse_n = log Σ_v exp(logits[n, v]).
// With label smoothing α (Megatron): s = α·V/(V−1), loss_n = (1−s)·loss_n − s·mean_v(log p_nv).
#include "core/base/tensor.h"

namespace mcpp::core {

struct CrossEntropyOptions {
  float label_smoothing = 0.0f;
  // Room for the vocab-parallel form (the owned vocab range and its reductions) later.
};

// logits F32 [N, V] (leading dims flattened), labels I64 [N] (each in [0, V)), loss_mask F32 [N]
// (or undefined = all ones). Writes losses F32 [N] (unmasked per-token losses), lse F32 [N]
// (kept for backward) and totals F32 [2] = (Σ_n mask_n·loss_n, Σ_n mask_n).
void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                           const CrossEntropyOptions& options, const Tensor& losses,
                           const Tensor& lse, const Tensor& totals);

// dlogits[n, v] = (softmax[n, v] − [v == label_n]) · grad_scale · mask_n (with label smoothing
// the one-hot target is smoothed accordingly), softmax recomputed from logits and lse.
// dlogits may be logits itself (overwrites the logits in place, saving a [N, V] buffer).
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                            const Tensor& lse, float grad_scale,
                            const CrossEntropyOptions& options, const Tensor& dlogits);

}  // namespace mcpp::core
