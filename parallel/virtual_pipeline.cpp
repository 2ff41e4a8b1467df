#include "parallel/virtual_pipeline.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "parallel/mpi_runtime.h"
#include "parallel/pipeline_schedule.h"

namespace mcpp::parallel {

namespace {

enum class Direction { forward = 0, backward = 1 };

// Where the chunks' activations live: their compute dtype on the model's device.
struct ActivationKind {
  DType dtype;
  Device device;
};
ActivationKind activation_kind(const model::GPTModel& chunk) {
  return {chunk.config().compute_dtype, chunk.params().device()};
}

// Where this rank's chunks sit in the ring of virtual stages and how messages are addressed.
class VirtualStages {
 public:
  VirtualStages(MpiCommunicator& pp, int num_chunks) : pp_(pp), ranks_(pp.size()), rank_(pp.rank()), chunks_(num_chunks) {}

  int count() const { return chunks_; }
  bool first(int chunk) const { return chunk == 0 && rank_ == 0; }
  bool last(int chunk) const { return chunk == chunks_ - 1 && rank_ == ranks_ - 1; }

  // Receives the input activation (forward) or output gradient (backward) of `chunk`, a tensor of
  // `kind` (through host memory when that is a GPU).
  Tensor receive(Direction direction, int chunk, const Shape& shape, const ActivationKind& kind) {
    Tensor tensor = Tensor::empty(shape, kind.dtype);
    const int peer = direction == Direction::forward ? previous_rank() : next_rank();
    check_mpi(MPI_Recv(tensor.raw_data(), static_cast<int>(tensor.nbytes()), MPI_BYTE, peer, tag(direction, chunk),
                       pp_.handle(), MPI_STATUS_IGNORE),
              "pipeline receive");
    return tensor.to(kind.device);
  }
  // Sends the output activation (forward) or input gradient (backward) of `chunk` on to the
  // neighbouring virtual stage (a host copy: the chunk may overwrite its tensors before it arrives).
  void send(Direction direction, int chunk, const Tensor& tensor) {
    const bool forward = direction == Direction::forward;
    const int peer = forward ? next_rank() : previous_rank();
    // The neighbour's chunk: the same one, except across the wrap-around between last and first rank.
    int peer_chunk = chunk;
    if (forward && rank_ == ranks_ - 1) ++peer_chunk;
    if (!forward && rank_ == 0) --peer_chunk;
    Pending pending{Tensor::empty(tensor.shape(), tensor.dtype()), MPI_REQUEST_NULL};
    pending.tensor.copy_from(tensor);  // on the host once copy_from returns
    check_mpi(MPI_Isend(pending.tensor.raw_data(), static_cast<int>(pending.tensor.nbytes()), MPI_BYTE, peer,
                        tag(direction, peer_chunk), pp_.handle(), &pending.request),
              "pipeline send");
    pending_.push_back(std::move(pending));
  }
  void finish_sends() {
    for (Pending& pending : pending_) check_mpi(MPI_Wait(&pending.request, MPI_STATUS_IGNORE), "pipeline send wait");
    pending_.clear();
  }
  ~VirtualStages() {
    // Sends are still in flight only while an error unwinds and the run is about to abort: leave
    // their buffers to them rather than block on a peer that may be gone.
    if (!pending_.empty()) new std::vector<Pending>(std::move(pending_));
  }

 private:
  struct Pending {
    Tensor tensor;
    MPI_Request request;
  };
  int previous_rank() const { return (rank_ + ranks_ - 1) % ranks_; }
  int next_rank() const { return (rank_ + 1) % ranks_; }
  // Tag 0 is the communicator's own blocking point-to-point traffic.
  int tag(Direction direction, int chunk) const { return 1 + static_cast<int>(direction) * chunks_ + chunk; }

  MpiCommunicator& pp_;
  int ranks_, rank_, chunks_;
  std::vector<Pending> pending_;
};

class ChunkRunner {
 public:
  ChunkRunner(const std::vector<model::GPTModel*>& chunks, MpiCommunicator& pp, const InterleavedIteration& iteration)
      : chunks_(chunks),
        stages_(pp, static_cast<int>(chunks.size())),
        it_(iteration),
        m_(iteration.pipeline.num_microbatches),
        inputs_(chunks.size(), std::vector<Tensor>(static_cast<size_t>(m_))),
        cached_(chunks.size(), -1),
        tokens_(static_cast<size_t>(m_), 0.0),
        kind_(activation_kind(*chunks.front())) {}

  void forward(int mb, int c) {
    Tensor input = stages_.first(c) ? Tensor() : stages_.receive(Direction::forward, c, shape(), kind_);
    inputs_[c][mb] = input;
    const model::LossPair loss = run_forward(mb, c);
    if (stages_.last(c)) {
      total_.loss_sum += loss.loss_sum;
      total_.num_tokens += loss.num_tokens;
      tokens_[mb] = loss.num_tokens;
    } else {
      stages_.send(Direction::forward, c, chunks_[c]->stage_output());
    }
  }

  void backward(int mb, int c) {
    const Tensor output_grad =
        stages_.last(c) ? Tensor() : stages_.receive(Direction::backward, c, shape(), kind_);
    if (cached_[c] != mb) run_forward(mb, c);  // the chunk's caches hold another micro-batch: replay
    if (mb == m_ - 1 && it_.before_last_backward) it_.before_last_backward(c);
    const float scale = stages_.last(c) ? last_stage_loss_grad_scale(it_.pipeline, tokens_[mb]) : 0.0f;
    chunks_[c]->backward(scale, output_grad);
    cached_[c] = -1;
    inputs_[c][mb] = Tensor();
    if (!stages_.first(c)) stages_.send(Direction::backward, c, chunks_[c]->stage_input_grad());
  }

  model::LossPair finish() {
    stages_.finish_sends();
    return total_;
  }

 private:
  const Shape& shape() const { return it_.pipeline.activation_shape; }
  model::LossPair run_forward(int mb, int c) {
    chunks_[c]->dropout().step = it_.pipeline.first_dropout_step + uint64_t(mb);
    const model::LossPair loss = chunks_[c]->forward(it_.pipeline.microbatch(mb), inputs_[c][mb]);
    cached_[c] = mb;
    return loss;
  }

  const std::vector<model::GPTModel*>& chunks_;
  VirtualStages stages_;
  const InterleavedIteration& it_;
  int m_;
  std::vector<std::vector<Tensor>> inputs_;  // [chunk][micro-batch]
  std::vector<int> cached_;                  // micro-batch in each chunk's caches, -1: none
  std::vector<double> tokens_;
  model::LossPair total_;
  ActivationKind kind_;
};

}  // namespace

model::LossPair run_interleaved_one_f_one_b(const std::vector<model::GPTModel*>& chunks, MpiCommunicator& pp,
                                            const InterleavedIteration& iteration) {
  InterleavedOptions options;
  options.pp_rank = pp.rank();
  options.pp_size = pp.size();
  options.virtual_size = static_cast<int>(chunks.size());
  options.num_microbatches = iteration.pipeline.num_microbatches;
  options.group_size = iteration.group_size;
  ChunkRunner runner(chunks, pp, iteration);
  for (const ScheduleStep& step : interleaved_schedule(options)) {
    if (step.pass == PipelinePass::forward) {
      runner.forward(step.microbatch, step.chunk);
    } else {
      runner.backward(step.microbatch, step.chunk);
    }
  }
  return runner.finish();
}

model::LossPair forward_through_pipeline(const std::vector<model::GPTModel*>& chunks, MpiCommunicator& pp,
                                         const model::MicroBatch& batch, const Shape& activation_shape) {
  // Virtual stages run strictly one after the other, so blocking sends cannot deadlock: every
  // rank walks the ring in the same order and each send's receiver is waiting for exactly it.
  VirtualStages stages(pp, static_cast<int>(chunks.size()));
  const ActivationKind kind = activation_kind(*chunks.front());
  model::LossPair loss;
  for (int c = 0; c < stages.count(); ++c) {
    const Tensor input = stages.first(c) ? Tensor() : stages.receive(Direction::forward, c, activation_shape, kind);
    loss = chunks[c]->forward(batch, input);
    if (!stages.last(c)) stages.send(Direction::forward, c, chunks[c]->stage_output());
  }
  stages.finish_sends();
  return loss;
}

}  // namespace mcpp::parallel
