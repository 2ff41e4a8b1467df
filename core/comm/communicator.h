#pragma once
// The collective-communication interface every parallel algorithm talks to. Implementations:
// SingleRankCommunicator (here: one process, every collective is the identity), and the MPI
// (host tensors) and NCCL (device tensors) communicators of parallel/.
//
// Conventions: tensors are contiguous; reduce_scatter and all_gather work along the flattened
// tensor (= dim 0 for [s, b, h] activations): rank r's part is elements
// [r * output.numel(), (r + 1) * output.numel()) of the big tensor. As with the kernel ops,
// outputs are Tensor handles passed by const reference: the call writes their elements.
#include <span>

#include "core/base/tensor.h"
#include "core/comm/pending_collective.h"

namespace mcpp::comm {

// average: Megatron's gradient averaging, every rank's input multiplied by 1/size (in its dtype)
// and then summed. The MPI communicator scales the input in place first; NCCL fuses the
// multiplication into the collective (PreMulSum) and leaves the input as it was.
enum class ReduceOp { sum, max, average };

// One point-to-point transfer of an exchange(): send `tensor` to `peer` or receive into it.
struct P2POp {
  enum class Kind { send, recv };
  Kind kind = Kind::send;
  Tensor tensor;
  int peer = 0;
  static P2POp send(Tensor tensor, int peer) { return {Kind::send, std::move(tensor), peer}; }
  static P2POp recv(Tensor tensor, int peer) { return {Kind::recv, std::move(tensor), peer}; }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every rank ends with the reduction over all ranks.
  virtual void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum) = 0;
  // input has size() * output.numel() elements; rank r receives the reduction of part r.
  virtual void reduce_scatter(const Tensor& input, const Tensor& output, ReduceOp op = ReduceOp::sum) = 0;
  // output has size() * input.numel() elements: the inputs of ranks 0..size-1 in order.
  virtual void all_gather(const Tensor& input, const Tensor& output) = 0;
  // In place: every rank ends with root's tensor.
  virtual void broadcast(const Tensor& tensor, int root) = 0;
  // In place onto `root`: root's tensor ends with the reduction over all ranks; the others' are
  // left unspecified (this default all-reduces, so they end with it too; MPI and NCCL send
  // each rank's part to the root only).
  virtual void reduce(const Tensor& tensor, int root, ReduceOp op = ReduceOp::sum);
  // Point to point (blocking).
  virtual void send(const Tensor& tensor, int peer) = 0;
  virtual void recv(const Tensor& tensor, int peer) = 0;
  // Sends `send` to `dest` and receives `recv` from `source` as one exchange, so two ranks that
  // send to each other at the same time cannot deadlock (pipeline send-forward-recv-backward).
  virtual void send_recv(const Tensor& send, int dest, const Tensor& recv, int source);
  // Every send and receive of `ops` as one batch (one NCCL group, one MPI Waitall): none waits
  // for another, so the call returns once all have completed, whatever order the peers list
  // them in. Between two ranks, the sends of one to the other match the other's receives from it
  // in list order (also across calls), so both must list them in the same order; with two ranks
  // the previous and next neighbour are the same rank. No ops: nothing happens.
  virtual void exchange(std::span<const P2POp> ops);
  virtual void barrier() = 0;

  // Non-blocking forms of the bucket collectives (gradient reduction, parameter gather):
  // the same results as the blocking calls once the handle's wait() returns (see
  // PendingCollective for what that means on host and device). The defaults run the blocking
  // call and return a completed handle.
  virtual PendingCollective all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::sum);
  virtual PendingCollective reduce_scatter_async(const Tensor& input, const Tensor& output,
                                                 ReduceOp op = ReduceOp::sum);
  virtual PendingCollective all_gather_async(const Tensor& input, const Tensor& output);
  virtual PendingCollective reduce_async(const Tensor& tensor, int root, ReduceOp op = ReduceOp::sum);

  // A zeroed buffer for tensors this group will reduce or gather in bulk (the gradient and
  // parameter buffers of data parallelism). Collective: every rank calls it with the same size,
  // in the same order. NCCL makes it a symmetric window, whose all-gathers run on the copy
  // engines and whose reductions read peers' memory directly, with fewer SMs; the default is an
  // ordinary tensor.
  virtual Tensor collective_buffer(int64_t numel, DType dtype, Device device);

 protected:
  // Throws unless `root` is a rank of this group (`op` names the operation in the message).
  void check_root(int root, const char* op) const;
};

// One process: rank 0 of size 1.
class SingleRankCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum) override;
  void reduce_scatter(const Tensor& input, const Tensor& output, ReduceOp op = ReduceOp::sum) override;
  void all_gather(const Tensor& input, const Tensor& output) override;
  void broadcast(const Tensor& tensor, int root) override;
  void send(const Tensor& tensor, int peer) override;
  void recv(const Tensor& tensor, int peer) override;
  void exchange(std::span<const P2POp> ops) override;
  void barrier() override {}
};

}  // namespace mcpp::comm
