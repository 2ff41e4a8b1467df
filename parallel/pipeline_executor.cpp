#include "parallel/pipeline_executor.h"

#include <algorithm>
#include <vector>

#include "core/base/error.h"
#include "parallel/pipeline_schedule.h"

namespace mcpp::parallel {

Shape pipeline_activation_shape(const model::ModelConfig& config, const model::ParallelContext& parallel,
                                int64_t micro_batch_size) {
  const bool sp = parallel.sequence_parallel && parallel.tp_size > 1;
  return Shape{config.seq_length / (sp ? parallel.tp_size : 1), micro_batch_size, config.hidden};
}

float last_stage_loss_grad_scale(const PipelineIteration& iteration, double num_tokens) {
  const double mean = iteration.per_token_loss ? 1.0 : 1.0 / std::max(num_tokens, 1.0) / iteration.num_microbatches;
  return static_cast<float>(mean * iteration.loss_scale);
}

namespace {

class StageRunner {
 public:
  StageRunner(model::GPTModel& model, comm::Communicator& pp, const PipelineIteration& iteration)
      : model_(model),
        pp_(pp),
        it_(iteration),
        first_(model.stage().pre_process),
        last_(model.stage().post_process),
        activation_dtype_(model.config().compute_dtype),
        device_(model.params().device()),
        stashed_(iteration.num_microbatches),
        tokens_(iteration.num_microbatches, 0.0) {
    check(pp.size() > 1 || (first_ && last_), "internal: a partial model needs pipeline neighbours");
  }

  // Each forward's activations wait in stashed_[mb] until its backward: later forwards run in
  // between, and nothing is recomputed.
  Tensor forward(int mb, const Tensor& input) {
    model_.dropout().step = it_.first_dropout_step + uint64_t(mb);
    const model::LossPair loss = model_.forward(it_.microbatch(mb), input);
    model_.swap_activations(stashed_[mb]);
    if (last_) {
      total_.loss_sum += loss.loss_sum;
      total_.num_tokens += loss.num_tokens;
      tokens_[mb] = loss.num_tokens;
      return Tensor();
    }
    return model_.stage_output();
  }

  Tensor backward(int mb, const Tensor& output_grad) {
    model_.swap_activations(stashed_[mb]);
    const float scale = last_ ? last_stage_loss_grad_scale(it_, tokens_[mb]) : 0.0f;
    if (mb == it_.num_microbatches - 1 && it_.before_last_backward) it_.before_last_backward();
    model_.backward(scale, output_grad);
    stashed_[mb] = {};  // what backward left behind (released caches) goes too
    return first_ ? Tensor() : model_.stage_input_grad();
  }

  // Neighbour exchanges; each is a no-op where the neighbour does not exist.
  Tensor recv_forward() { return first_ ? Tensor() : received(prev(), nullptr); }
  void send_forward(const Tensor& output) {
    if (!last_) pp_.send(checked(output), next());
  }
  Tensor send_forward_recv_backward(const Tensor& output) { return last_ ? Tensor() : received(next(), &output); }
  Tensor send_backward_recv_forward(const Tensor& input_grad) {
    return first_ ? Tensor() : received(prev(), &input_grad);
  }
  Tensor recv_backward() { return last_ ? Tensor() : received(next(), nullptr); }
  void send_backward(const Tensor& input_grad) {
    if (!first_) pp_.send(checked(input_grad), prev());
  }

  const model::LossPair& total() const { return total_; }

 private:
  int prev() const { return pp_.rank() - 1; }
  int next() const { return pp_.rank() + 1; }
  // A tensor received from `peer`, after sending `*send` to it in the same exchange when given.
  Tensor received(int peer, const Tensor* send) {
    Tensor tensor = Tensor::empty(it_.activation_shape, activation_dtype_, device_);
    if (send)
      pp_.send_recv(checked(*send), peer, tensor, peer);
    else
      pp_.recv(tensor, peer);
    return tensor;
  }

  // The neighbour receives into a buffer of the agreed shape, dtype and device: the bytes must match.
  const Tensor& checked(const Tensor& tensor) const {
    check(tensor.shape() == it_.activation_shape && tensor.dtype() == activation_dtype_ && tensor.device() == device_,
          "internal: a pipeline stage sends " + tensor.describe() + " where its neighbour expects a " +
              dtype_name(activation_dtype_) + " " + device_name(device_) + " tensor of the activation shape");
    return tensor;
  }

  model::GPTModel& model_;
  comm::Communicator& pp_;
  const PipelineIteration& it_;
  bool first_, last_;
  DType activation_dtype_;
  Device device_;
  std::vector<model::GPTModel::Activations> stashed_;  // [micro-batch], between forward and backward
  std::vector<double> tokens_;
  model::LossPair total_;
};

}  // namespace

model::LossPair run_one_f_one_b(model::GPTModel& model, comm::Communicator& pp, const PipelineIteration& iteration) {
  const int m = iteration.num_microbatches;
  StageRunner stage(model, pp, iteration);
  const int warmup = one_f_one_b_warmup(pp.rank(), pp.size(), m);
  const int steady = m - warmup;
  for (int i = 0; i < warmup; ++i) stage.send_forward(stage.forward(i, stage.recv_forward()));
  Tensor input = steady > 0 ? stage.recv_forward() : Tensor();
  for (int i = 0; i < steady; ++i) {
    const Tensor output_grad = stage.send_forward_recv_backward(stage.forward(warmup + i, input));
    const Tensor input_grad = stage.backward(i, output_grad);
    if (i == steady - 1)
      stage.send_backward(input_grad);
    else
      input = stage.send_backward_recv_forward(input_grad);
  }
  for (int i = steady; i < m; ++i) stage.send_backward(stage.backward(i, stage.recv_backward()));
  return stage.total();
}

}  // namespace mcpp::parallel
