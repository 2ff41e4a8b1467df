#pragma once
// Token embedding lookup with an owned vocab range (vocab-parallel embedding): this shard holds
// rows [vocab_start, vocab_start + weight.dim(0)) of the full table; ids outside give zero rows
// (the tensor-parallel all-reduce or reduce-scatter then sums the shards' partial results).
#include <cstdint>

#include "core/base/tensor.h"

namespace mcpp::core {

// ids I64 [...] -> out [..., h] from weight [V_local, h].
void embedding_forward(const Tensor& ids, const Tensor& weight, int64_t vocab_start,
                       const Tensor& out);

// dweight [V_local, h] += rows of dout [..., h] at the owned ids (deterministic order).
void embedding_backward(const Tensor& ids, const Tensor& dout, int64_t vocab_start,
                        const Tensor& dweight);

}  // namespace mcpp::core
