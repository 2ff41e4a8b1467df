#pragma once
// Megatron's tensor-parallel mapping primitives (compat §10.1) in explicit forward/backward form,
// for the two places a transformer layer meets tensor parallelism:
//   entering a column-parallel linear (QKV, fc1, output layer):
//     plain TP: copy-to-TP (forward identity, backward all-reduce of the input gradient);
//     sequence parallel: gather-from-SP (forward all-gather along the sequence, backward
//     reduce-scatter);
//   leaving a row-parallel linear (proj, fc2) or the vocab-parallel embedding:
//     plain TP: reduce-from-TP (forward all-reduce, backward identity);
//     sequence parallel: reduce-scatter-to-SP (forward reduce-scatter along the sequence,
//     backward all-gather).
// Activations are [s, b, h], so "along the sequence" is dim 0 of a contiguous tensor. With
// tp = 1 every function is the identity.
#include "core/base/tensor.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

inline bool sequence_parallel(const ParallelContext& parallel) {
  return parallel.sequence_parallel && parallel.tp_size > 1;
}

namespace tp_detail {
inline Tensor gather_sequence(const ParallelContext& parallel, const Tensor& shard) {
  Shape full = shard.shape();
  full[0] = shard.dim(0) * parallel.tp_size;
  Tensor out = Tensor::empty(full, shard.dtype(), shard.device());
  parallel.tp_comm->all_gather(shard, out);
  return out;
}
inline Tensor scatter_sequence_sum(const ParallelContext& parallel, const Tensor& full) {
  Shape part = full.shape();
  part[0] = full.dim(0) / parallel.tp_size;
  Tensor out = Tensor::empty(part, full.dtype(), full.device());
  parallel.tp_comm->reduce_scatter(full, out, comm::ReduceOp::sum);
  return out;
}
}  // namespace tp_detail

// Whether a row-parallel linear may add its bias inside the GEMM (the epilogue) instead of after
// the reduction: only when there is no reduction (tp = 1). Kept to the GPU, where it saves a pass;
// the CPU reference adds the bias separately as before (its results stay bit-identical).
inline bool fold_row_parallel_bias(const ParallelContext& parallel, const Tensor& partial) {
  return parallel.tp_size == 1 && partial.device() == Device::CUDA;
}

// Forward into a column-parallel linear: the full-sequence input.
inline Tensor enter_column_parallel(const ParallelContext& parallel, const Tensor& x) {
  return sequence_parallel(parallel) ? tp_detail::gather_sequence(parallel, x) : x;
}
// Its backward: the input gradient summed over the TP ranks (and split again with SP).
inline Tensor enter_column_parallel_backward(const ParallelContext& parallel, const Tensor& dx) {
  if (sequence_parallel(parallel)) return tp_detail::scatter_sequence_sum(parallel, dx);
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(dx, comm::ReduceOp::sum);
  return dx;
}
// Forward out of a row-parallel linear: partial sums reduced (and split with SP).
inline Tensor leave_row_parallel(const ParallelContext& parallel, const Tensor& partial) {
  if (sequence_parallel(parallel)) return tp_detail::scatter_sequence_sum(parallel, partial);
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(partial, comm::ReduceOp::sum);
  return partial;
}
// Its backward: the output gradient for the full sequence.
inline Tensor leave_row_parallel_backward(const ParallelContext& parallel, const Tensor& dy) {
  return sequence_parallel(parallel) ? tp_detail::gather_sequence(parallel, dy) : dy;
}

// Element offset of this rank's sequence shard in the full activation (dropout masks use global
// element indices, so sequence-parallel shards draw the single-rank mask's slices).
inline uint64_t sequence_shard_offset(const ParallelContext& parallel, const Tensor& shard) {
  return sequence_parallel(parallel) ? uint64_t(parallel.tp_rank) * uint64_t(shard.numel()) : 0;
}

}  // namespace mcpp::model
