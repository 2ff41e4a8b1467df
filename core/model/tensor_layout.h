#pragma once
// Layout shuffles the model needs between kernels (CPU; a device version comes with the CUDA
// backend):
//   - Megatron's fused QKV output holds, per query group, that group's query heads, then its key
//     head, then its value head; core attention wants separate q [s,b,n_q,d], k, v [s,b,n_kv,d].
//   - Batches arrive batch-first [b, s] (Megatron's get_batch); activations are sequence-first.
#include "core/base/tensor.h"

namespace mcpp::model {

// qkv [s, b, groups * (heads_per_group + 2) * d] -> q [s, b, groups * heads_per_group, d],
// k and v [s, b, groups, d].
void split_qkv(const Tensor& qkv, int heads_per_group, const Tensor& q, const Tensor& k, const Tensor& v);
// The inverse (used for gradients): dq, dk, dv -> dqkv (overwritten).
void merge_qkv(const Tensor& dq, const Tensor& dk, const Tensor& dv, int heads_per_group, const Tensor& dqkv);
// [b, s] -> a new [s, b] tensor of the same dtype (I64 or F32).
Tensor to_sequence_first(const Tensor& batch_first);

}  // namespace mcpp::model
