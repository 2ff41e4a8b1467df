#include "core/comm/communicator.h"

namespace mcpp::comm {

PendingCollective Communicator::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  all_reduce(tensor, op);
  return {};
}

PendingCollective Communicator::reduce_scatter_async(const Tensor& input, const Tensor& output, ReduceOp op) {
  reduce_scatter(input, output, op);
  return {};
}

PendingCollective Communicator::all_gather_async(const Tensor& input, const Tensor& output) {
  all_gather(input, output);
  return {};
}

}  // namespace mcpp::comm
