#include "parallel/virtual_pipeline.h"

#include <optional>
#include <string>

#include "core/base/error.h"
#include "parallel/pipeline_lockstep.h"

namespace mcpp::parallel {

namespace {

// Where this rank's chunks sit in the ring of virtual stages, and the tensors they pass on: the
// chunks' compute dtype on their device, in the agreed activation shape.
class VirtualStages {
 public:
  VirtualStages(const std::vector<model::GPTModel*>& chunks, const comm::Communicator& pp, const Shape& shape)
      : ranks_(pp.size()),
        rank_(pp.rank()),
        chunks_(static_cast<int>(chunks.size())),
        shape_(shape),
        dtype_(chunks.front()->config().compute_dtype),
        device_(chunks.front()->params().device()) {}

  int count() const { return chunks_; }
  bool first(int chunk) const { return chunk == 0 && rank_ == 0; }
  bool last(int chunk) const { return chunk == chunks_ - 1 && rank_ == ranks_ - 1; }
  int previous_rank() const { return (rank_ + ranks_ - 1) % ranks_; }
  int next_rank() const { return (rank_ + 1) % ranks_; }
  // This rank's chunk that receives what the previous rank's `chunk` sends forward (the ring
  // wraps from the last rank to the first rank's next chunk), and likewise backward.
  int forward_receiver(int sender_chunk) const { return sender_chunk + (rank_ == 0 ? 1 : 0); }
  int backward_receiver(int sender_chunk) const { return sender_chunk - (rank_ == ranks_ - 1 ? 1 : 0); }

  Tensor buffer() const { return Tensor::empty(shape_, dtype_, device_); }
  // The neighbour receives into a buffer of the agreed shape, dtype and device: the bytes must match.
  const Tensor& checked(const Tensor& tensor) const {
    check(tensor.shape() == shape_ && tensor.dtype() == dtype_ && tensor.device() == device_,
          "internal: a virtual pipeline stage sends " + tensor.describe() + " where its neighbour expects a " +
              dtype_name(dtype_) + " " + device_name(device_) + " tensor of the activation shape");
    return tensor;
  }

 private:
  int ranks_, rank_, chunks_;
  Shape shape_;
  DType dtype_;
  Device device_;
};

class ChunkRunner {
 public:
  ChunkRunner(const std::vector<model::GPTModel*>& chunks, comm::Communicator& pp,
              const InterleavedIteration& iteration)
      : chunks_(chunks),
        pp_(pp),
        stages_(chunks, pp, iteration.pipeline.activation_shape),
        it_(iteration),
        m_(iteration.pipeline.num_microbatches),
        inputs_(chunks.size(), std::vector<Tensor>(static_cast<size_t>(m_))),
        output_grads_(chunks.size(), std::vector<Tensor>(static_cast<size_t>(m_))),
        stashed_(chunks.size(), std::vector<model::GPTModel::Activations>(static_cast<size_t>(m_))),
        tokens_(static_cast<size_t>(m_), 0.0) {}

  // One step's exchange, in the order pipeline_lockstep.h argues for: sends (activation, then
  // gradient), then receives (activation, then gradient).
  void exchange(const LockstepStep& step) {
    if (!step.exchanges()) return;
    std::vector<comm::P2POp> ops;
    if (step.send_forward)
      ops.push_back(comm::P2POp::send(take(outgoing_forward_, *step.send_forward), stages_.next_rank()));
    if (step.send_backward)
      ops.push_back(comm::P2POp::send(take(outgoing_backward_, *step.send_backward), stages_.previous_rank()));
    if (step.recv_forward) {
      Tensor& input = inputs_[stages_.forward_receiver(step.recv_forward->chunk)][step.recv_forward->microbatch];
      input = stages_.buffer();
      ops.push_back(comm::P2POp::recv(input, stages_.previous_rank()));
    }
    if (step.recv_backward) {
      Tensor& grad =
          output_grads_[stages_.backward_receiver(step.recv_backward->chunk)][step.recv_backward->microbatch];
      grad = stages_.buffer();
      ops.push_back(comm::P2POp::recv(grad, stages_.next_rank()));
    }
    pp_.exchange(ops);
  }

  void forward(int mb, int c) {
    check(stages_.first(c) || inputs_[c][mb].defined(), "internal: interleaved forward " + name(mb, c) +
                                                            " runs before its input arrived");
    chunks_[c]->dropout().step = it_.pipeline.first_dropout_step + uint64_t(mb);
    const model::LossPair loss = chunks_[c]->forward(it_.pipeline.microbatch(mb), inputs_[c][mb]);
    chunks_[c]->swap_activations(stashed_[c][mb]);  // kept for this micro-batch's backward
    inputs_[c][mb] = Tensor();
    if (stages_.last(c)) {
      total_.loss_sum += loss.loss_sum;
      total_.num_tokens += loss.num_tokens;
      tokens_[mb] = loss.num_tokens;
    } else {
      outgoing_forward_ = Outgoing{{mb, c}, stages_.checked(chunks_[c]->stage_output())};
    }
  }

  void backward(int mb, int c) {
    const Tensor output_grad = output_grads_[c][mb];
    output_grads_[c][mb] = Tensor();
    check(stages_.last(c) || output_grad.defined(), "internal: interleaved backward " + name(mb, c) +
                                                        " runs before its output gradient arrived");
    // The activation this round's forward produced waits for the next exchange; this chunk's
    // backward must not write over it.
    if (outgoing_forward_ && outgoing_forward_->transfer.chunk == c) {
      Tensor kept = stages_.buffer();
      kept.copy_from(outgoing_forward_->tensor);
      outgoing_forward_->tensor = kept;
    }
    chunks_[c]->swap_activations(stashed_[c][mb]);
    if (mb == m_ - 1 && it_.before_last_backward) it_.before_last_backward(c);
    const float scale = stages_.last(c) ? last_stage_loss_grad_scale(it_.pipeline, tokens_[mb]) : 0.0f;
    chunks_[c]->backward(scale, output_grad);
    stashed_[c][mb] = {};
    if (!stages_.first(c)) outgoing_backward_ = Outgoing{{mb, c}, stages_.checked(chunks_[c]->stage_input_grad())};
  }

  model::LossPair finish() const {
    check(!outgoing_forward_ && !outgoing_backward_, "internal: the interleaved pipeline ended with unsent tensors");
    return total_;
  }

 private:
  struct Outgoing {
    StageTransfer transfer;
    Tensor tensor;
  };
  static std::string name(int mb, int c) { return std::to_string(mb) + "." + std::to_string(c); }
  // The tensor the plan sends now: the one the previous round produced.
  static Tensor take(std::optional<Outgoing>& outgoing, const StageTransfer& planned) {
    check(outgoing && outgoing->transfer == planned,
          "internal: the interleaved pipeline plan sends " + name(planned.microbatch, planned.chunk) +
              ", which the previous round did not produce");
    Tensor tensor = std::move(outgoing->tensor);
    outgoing.reset();
    return tensor;
  }
  const std::vector<model::GPTModel*>& chunks_;
  comm::Communicator& pp_;
  VirtualStages stages_;
  const InterleavedIteration& it_;
  int m_;
  std::vector<std::vector<Tensor>> inputs_;        // [chunk][micro-batch], until the forward
  std::vector<std::vector<Tensor>> output_grads_;  // [chunk][micro-batch], until the backward
  // [chunk][micro-batch]: the activations a forward keeps, from it until its backward.
  std::vector<std::vector<model::GPTModel::Activations>> stashed_;
  std::vector<double> tokens_;
  std::optional<Outgoing> outgoing_forward_, outgoing_backward_;  // produced, sent at the next step
  model::LossPair total_;
};

}  // namespace

model::LossPair run_interleaved_one_f_one_b(const std::vector<model::GPTModel*>& chunks, comm::Communicator& pp,
                                            const InterleavedIteration& iteration) {
  InterleavedOptions options;
  options.pp_rank = pp.rank();
  options.pp_size = pp.size();
  options.virtual_size = static_cast<int>(chunks.size());
  options.num_microbatches = iteration.pipeline.num_microbatches;
  options.group_size = iteration.group_size;
  ChunkRunner runner(chunks, pp, iteration);
  for (const LockstepStep& step : interleaved_lockstep_plan(options)) {
    runner.exchange(step);
    for (const ScheduleStep& pass : step.passes) {
      if (pass.pass == PipelinePass::forward) {
        runner.forward(pass.microbatch, pass.chunk);
      } else {
        runner.backward(pass.microbatch, pass.chunk);
      }
    }
  }
  return runner.finish();
}

model::LossPair forward_through_pipeline(const std::vector<model::GPTModel*>& chunks, comm::Communicator& pp,
                                         const model::MicroBatch& batch, const Shape& activation_shape) {
  // Virtual stages run strictly one after the other: every rank walks the ring in the same order
  // and each send's receiver is waiting for exactly it, so blocking sends and receives (matched
  // in issue order, as NCCL does) cannot deadlock. With two ranks each alternates send and
  // receive with the other, in opposite phase.
  const VirtualStages stages(chunks, pp, activation_shape);
  model::LossPair loss;
  for (int c = 0; c < stages.count(); ++c) {
    Tensor input;
    if (!stages.first(c)) {
      input = stages.buffer();
      pp.recv(input, stages.previous_rank());
    }
    loss = chunks[c]->forward(batch, input);
    if (!stages.last(c)) pp.send(stages.checked(chunks[c]->stage_output()), stages.next_rank());
  }
  return loss;
}

}  // namespace mcpp::parallel
