#pragma once
// A communicator for tests: N ranks as N threads of one process, so tensor-parallel layers can
// be checked against the single-rank model without MPI. Reductions add the ranks' values in rank
// order, so every rank gets bitwise the same result.
#include <algorithm>
#include <barrier>
#include <memory>
#include <vector>

#include "core/base/error.h"
#include "core/comm/communicator.h"

namespace mcpp::model::testing {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), sync_(size), slots_(size) {}
  int size() const { return size_; }

  // Publishes this rank's tensor, then waits until every rank has.
  void publish(int rank, const Tensor& tensor) {
    slots_[rank] = tensor;
    sync_.arrive_and_wait();
  }
  const Tensor& slot(int rank) const { return slots_[rank]; }
  void wait() { sync_.arrive_and_wait(); }

 private:
  int size_;
  std::barrier<> sync_;
  std::vector<Tensor> slots_;
};

class ThreadCommunicator final : public comm::Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<ThreadGroup> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }

  void all_reduce(const Tensor& tensor, comm::ReduceOp op) override {
    Tensor result = reduce(tensor, op, 0, tensor.numel());
    tensor.copy_from(result);
  }
  void reduce_scatter(const Tensor& input, const Tensor& output, comm::ReduceOp op) override {
    Tensor result = reduce(input, op, rank_ * output.numel(), output.numel());
    output.copy_from(result);
  }
  void all_gather(const Tensor& input, const Tensor& output) override {
    group_->publish(rank_, input);
    const int64_t n = input.numel();
    for (int r = 0; r < size(); ++r) output.view({output.numel()}).sub(r * n, {n}).copy_from(group_->slot(r).view({n}));
    group_->wait();
  }
  void broadcast(const Tensor& tensor, int root) override {
    group_->publish(rank_, tensor);
    Tensor copy = Tensor::empty(tensor.shape(), tensor.dtype());
    copy.copy_from(group_->slot(root));
    group_->wait();
    tensor.copy_from(copy);
  }
  void send(const Tensor&, int) override { throw Error("ThreadCommunicator has no point-to-point"); }
  void recv(const Tensor&, int) override { throw Error("ThreadCommunicator has no point-to-point"); }
  void barrier() override { group_->wait(); }

 private:
  // Elements [begin, begin + count) of the flattened tensors, reduced over ranks in rank order.
  Tensor reduce(const Tensor& tensor, comm::ReduceOp op, int64_t begin, int64_t count) {
    group_->publish(rank_, tensor);
    Tensor result = Tensor::empty({count});
    float* out = result.data<float>();
    // average: each input multiplied by 1/size first, as the real communicators do.
    const float factor = op == comm::ReduceOp::average ? 1.0f / static_cast<float>(size()) : 1.0f;
    const float* first = group_->slot(0).data<float>() + begin;
    for (int64_t i = 0; i < count; ++i) out[i] = first[i] * factor;
    for (int r = 1; r < size(); ++r) {
      const float* in = group_->slot(r).data<float>() + begin;
      for (int64_t i = 0; i < count; ++i)
        out[i] = op == comm::ReduceOp::max ? std::max(out[i], in[i]) : out[i] + in[i] * factor;
    }
    group_->wait();  // everyone has read every input before anyone overwrites its own
    return result;
  }

  std::shared_ptr<ThreadGroup> group_;
  int rank_;
};

}  // namespace mcpp::model::testing
