#pragma once
// Megatron's tensor- and sequence-parallel mapping primitives (compat §10.1) in their explicit
// forward/backward form. Without sequence parallelism:
//   copy-to-TP-region (entering a column-parallel layer): forward identity, backward all-reduce;
//   reduce-from-TP-region (leaving a row-parallel layer): forward all-reduce, backward identity.
// With --sequence-parallel the activations between linear layers are split along dim 0 (the
// sequence) over the TP group:
//   gather-from-SP-region (entering a column-parallel layer): forward all-gather, backward
//   reduce-scatter; reduce-scatter-to-SP-region (leaving a row-parallel layer): forward
//   reduce-scatter, backward all-gather.
// With tp = 1 all of them are the identity.
#include <cstdint>

#include "core/base/tensor.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

inline bool sequence_parallel_on(const ParallelContext& parallel) {
  return parallel.sequence_parallel && parallel.tp_size > 1;
}

// Sums partial results over the TP group, in place.
inline void reduce_from_tp_region(const ParallelContext& parallel, const Tensor& tensor) {
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(tensor, comm::ReduceOp::sum);
}

// Backward of copy-to-TP-region: the input gradient of a column-parallel layer sums the shards'
// contributions.
inline void copy_to_tp_region_backward(const ParallelContext& parallel, const Tensor& grad) {
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(grad, comm::ReduceOp::sum);
}

// [s/tp, ...] -> [s, ...]: the TP ranks' sequence slices in rank order (a new tensor).
inline Tensor all_gather_sequence(const ParallelContext& parallel, const Tensor& local) {
  Shape shape = local.shape();
  shape[0] = local.dim(0) * parallel.tp_size;
  Tensor full = Tensor::empty(shape, local.dtype(), local.device());
  parallel.tp_comm->all_gather(local, full);
  return full;
}

// [s, ...] -> [s/tp, ...]: this rank's sequence slice of the sum over the TP group (a new tensor).
inline Tensor reduce_scatter_sequence(const ParallelContext& parallel, const Tensor& full) {
  check(full.dim(0) % parallel.tp_size == 0,
        "--sequence-parallel needs the sequence length to be divisible by --tensor-model-parallel-size");
  Shape shape = full.shape();
  shape[0] = full.dim(0) / parallel.tp_size;
  Tensor local = Tensor::empty(shape, full.dtype(), full.device());
  parallel.tp_comm->reduce_scatter(full, local, comm::ReduceOp::sum);
  return local;
}

// Entering a column-parallel layer: the full-sequence input (gathered with SP, else as is).
inline Tensor enter_column_parallel(const ParallelContext& parallel, const Tensor& x) {
  return sequence_parallel_on(parallel) ? all_gather_sequence(parallel, x) : x;
}

// Backward of enter_column_parallel: the input gradient summed over the shards (and
// scattered back to this rank's sequence slice with SP).
inline Tensor enter_column_parallel_backward(const ParallelContext& parallel, const Tensor& dx_full) {
  if (sequence_parallel_on(parallel)) return reduce_scatter_sequence(parallel, dx_full);
  copy_to_tp_region_backward(parallel, dx_full);
  return dx_full;
}

// Leaving a row-parallel layer: partial sums reduced (and scattered along the sequence with SP).
inline Tensor leave_row_parallel(const ParallelContext& parallel, const Tensor& partial) {
  if (sequence_parallel_on(parallel)) return reduce_scatter_sequence(parallel, partial);
  reduce_from_tp_region(parallel, partial);
  return partial;
}

// Backward of leave_row_parallel: the full-sequence output gradient.
inline Tensor leave_row_parallel_backward(const ParallelContext& parallel, const Tensor& dy) {
  return sequence_parallel_on(parallel) ? all_gather_sequence(parallel, dy) : dy;
}

// With SP a rank's activation elements are a slice of the full tensor; dropout draws Philox
// numbers by global element index so the masks do not depend on the layout.
inline uint64_t sequence_element_offset(const ParallelContext& parallel, const Tensor& local) {
  return sequence_parallel_on(parallel) ? uint64_t(parallel.tp_rank) * uint64_t(local.numel()) : 0;
}

}  // namespace mcpp::model
