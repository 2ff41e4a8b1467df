#pragma once
// Cross-entropy over logits whose vocabulary is split across the TP group (compat §10.4): each
// rank holds columns [vocab_start, vocab_start + V_local) of the logits. The softmax normaliser
// and the target logit are combined over TP with all-reduces; probabilities are never stored.
// With tp = 1 this is exactly the fused cross-entropy kernel.
//
// The per-shard work uses the cross-entropy kernel (its lse over the local columns, its
// softmax-minus-one-hot gradient); what the kernel cannot express, a label that lives on another
// rank, is the small correction below. Label smoothing is not supported with tp > 1 yet.
#include <cstdint>
#include <vector>

#include "core/base/tensor.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

struct VocabParallelLoss {
  double loss_sum = 0;  // Σ mask · loss
  double num_tokens = 0;  // Σ mask
};

class VocabParallelCrossEntropy {
 public:
  explicit VocabParallelCrossEntropy(const ParallelContext& parallel) : parallel_(parallel) {}
  // logits F32 [N, V_local], labels I64 [N] (global ids), loss_mask F32 [N] or undefined.
  VocabParallelLoss forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask);
  // Writes d(Σ mask·loss · grad_scale)/d logits into dlogits (may be logits itself).
  void backward(float grad_scale, const Tensor& dlogits);
  void release();

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    Tensor logits, local_labels, loss_mask, lse;
    // Whether row n's label is in this rank's vocabulary range (host); the same flags and
    // logits[n, 0] as device tensors (device runs only).
    std::vector<uint8_t> owned;
    Tensor owned_device, first_column;
  };
  void swap_saved(Saved& other);

 private:
  VocabParallelLoss forward_on_device(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask);

  const ParallelContext& parallel_;
  Saved saved_;  // what the last forward kept for its backward
};

}  // namespace mcpp::model
