#include "core/comm/communicator.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::comm {

PendingCollective Communicator::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  all_reduce(tensor, op);
  return {};
}

PendingCollective Communicator::reduce_scatter_async(const Tensor& input, const Tensor& output, ReduceOp op) {
  reduce_scatter(input, output, op);
  return {};
}

Tensor Communicator::collective_buffer(int64_t numel, DType dtype, Device device) {
  return Tensor::zeros({numel}, dtype, device);
}

void Communicator::check_root(int root, const char* op) const {
  check(root >= 0 && root < size(), std::string(op) + " root " + std::to_string(root) +
                                        " is not a rank of a group of " + std::to_string(size()));
}

void Communicator::reduce(const Tensor& tensor, int root, ReduceOp op) {
  check_root(root, "reduce");
  all_reduce(tensor, op);
}

PendingCollective Communicator::reduce_async(const Tensor& tensor, int root, ReduceOp op) {
  reduce(tensor, root, op);
  return {};
}

PendingCollective Communicator::all_gather_async(const Tensor& input, const Tensor& output) {
  all_gather(input, output);
  return {};
}

}  // namespace mcpp::comm
