#include "core/base/error.h"
#include "core/comm/communicator.h"

namespace mcpp::comm {

// With one rank every reduction is over that rank alone.
void SingleRankCommunicator::all_reduce(const Tensor&, ReduceOp) {}

void SingleRankCommunicator::reduce_scatter(const Tensor& input, const Tensor& output, ReduceOp) {
  check(input.numel() == output.numel(), "reduce_scatter on one rank needs input and output of equal size");
  if (!input.overlaps(output)) output.copy_from(input);
}

void SingleRankCommunicator::all_gather(const Tensor& input, const Tensor& output) {
  check(input.numel() == output.numel(), "all_gather on one rank needs input and output of equal size");
  if (!input.overlaps(output)) output.copy_from(input);
}

void SingleRankCommunicator::broadcast(const Tensor&, int root) {
  check(root == 0, "broadcast root " + std::to_string(root) + " does not exist: there is one rank");
}

void Communicator::send_recv(const Tensor&, int dest, const Tensor&, int) {
  throw Error("send_recv with rank " + std::to_string(dest) + " is not supported by this communicator");
}

void Communicator::exchange(std::span<const P2POp> ops) {
  if (!ops.empty())
    throw Error("exchange with rank " + std::to_string(ops.front().peer) + " is not supported by this communicator");
}

void SingleRankCommunicator::exchange(std::span<const P2POp> ops) {
  if (!ops.empty())
    throw Error("exchange with rank " + std::to_string(ops.front().peer) + ": a single-rank communicator has no peers");
}

void SingleRankCommunicator::send(const Tensor&, int peer) {
  throw Error("send to rank " + std::to_string(peer) + ": a single-rank communicator has no peers");
}

void SingleRankCommunicator::recv(const Tensor&, int peer) {
  throw Error("recv from rank " + std::to_string(peer) + ": a single-rank communicator has no peers");
}

}  // namespace mcpp::comm
