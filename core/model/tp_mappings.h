#pragma once
// Megatron's tensor-parallel mapping primitives (compat §10.1) in their explicit forward/backward
// form. Without sequence parallelism:
//   copy-to-TP-region (entering a column-parallel layer): forward identity, backward all-reduce;
//   reduce-from-TP-region (leaving a row-parallel layer): forward all-reduce, backward identity.
// With tp = 1 both are the identity.
#include "core/base/tensor.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

// Sums partial results over the TP group, in place.
inline void reduce_from_tp_region(const ParallelContext& parallel, const Tensor& tensor) {
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(tensor, comm::ReduceOp::sum);
}

// Backward of copy-to-TP-region: the input gradient of a column-parallel layer sums the shards'
// contributions.
inline void copy_to_tp_region_backward(const ParallelContext& parallel, const Tensor& grad) {
  if (parallel.tp_size > 1) parallel.tp_comm->all_reduce(grad, comm::ReduceOp::sum);
}

}  // namespace mcpp::model
