#pragma once
// The device side of the vocab-parallel cross-entropy (core/model/vocab_parallel_cross_entropy.h)
// on CUDA tensors: the per-row steps that touch labels or logits. The per-row combination over
// the TP group (a few floats per token) stays with the caller.
#include <cstdint>

#include "core/base/tensor.h"

namespace mcpp::model::cuda {

// labels I64 [N] (global ids) -> local I64 [N] (label − vocab_start when owned, else 0) and
// owned U8 [N] (1 when vocab_start <= label < vocab_start + vocab).
void localize_labels(const Tensor& labels, int64_t vocab_start, int64_t vocab, const Tensor& local,
                     const Tensor& owned);

// From logits [N, V] (F32, BF16 or F16): target F32 [N] = owned ? logits[n, local[n]] : 0 and
// first_column F32 [N] = logits[n, 0].
void gather_logits(const Tensor& logits, const Tensor& local, const Tensor& owned, const Tensor& target,
                   const Tensor& first_column);

// For rows whose label lives on another rank the kernel wrote (softmax − 1) into column 0; make
// it plain softmax: dlogits[n, 0] = exp(first_column[n] − lse[n]) · grad_scale · mask[n].
void fix_unowned_first_column(const Tensor& dlogits, const Tensor& first_column, const Tensor& owned,
                              const Tensor& lse, const Tensor& loss_mask, float grad_scale);

}  // namespace mcpp::model::cuda
