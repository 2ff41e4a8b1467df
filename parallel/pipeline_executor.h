#pragma once
// Runs one iteration of a pipeline stage in Megatron's non-interleaved 1F1B order (compat §5.2):
// warm-up forwards, steady forward / backward pairs with one fused exchange each way
// (send-forward-recv-backward, send-backward-recv-forward), cool-down backwards. Activations
// and their gradients travel between neighbouring stages as [s(/tp with SP), b, h] tensors in the
// model's compute dtype on its device (bf16 on GPUs with --bf16, as Megatron sends in the params
// dtype), over the pipeline group's tensor communicator (NCCL for CUDA tensors, MPI on CPU).
// Over NCCL a send waits for the matching receive and calls match in issue order: in this order
// every lone send meets a receive its neighbour posts at the same step, and the fused exchanges
// are one NCCL group each, so no pair of stages can wait on each other.
//
// As in Megatron, a stage keeps the activations of every micro-batch between its forward and
// its backward (up to the warm-up count + 1 at once): after each forward they are swapped out of
// the model into a per-micro-batch stash (GPTModel::swap_activations) and swapped back in before
// that micro-batch's backward, so every forward runs once.
#include <cstdint>
#include <functional>

#include "core/comm/communicator.h"
#include "core/model/gpt_model.h"

namespace mcpp::parallel {

// Shape of the activations exchanged between stages.
Shape pipeline_activation_shape(const model::ModelConfig& config, const model::ParallelContext& parallel,
                                int64_t micro_batch_size);

struct PipelineIteration {
  int num_microbatches = 1;
  // Micro-batch m of this iteration (tokens on every stage; labels and loss mask on the last).
  std::function<model::MicroBatch(int)> microbatch;
  Shape activation_shape;
  // model.dropout().step for micro-batch m is first_dropout_step + m.
  uint64_t first_dropout_step = 0;
  // fp16 loss scale, multiplied into the last stage's backward scale.
  double loss_scale = 1.0;
  // --calculate-per-token-loss: the backward is not divided by tokens and micro-batches (the
  // caller divides the gradients by the global token count afterwards).
  bool per_token_loss = false;
  // Called right before the iteration's last backward (GradReducer::start_overlap with
  // --overlap-grad-reduce, as Megatron enables grad sync there); may be empty.
  std::function<void()> before_last_backward;
};

// Accumulates this stage's gradients for the iteration (the caller zeroes them first and reduces
// them afterwards). Returns (Σ loss_sum, Σ num_tokens) on the last stage, {0, 0} elsewhere. Each
// micro-batch's backward is scaled by last_stage_loss_grad_scale().
// The last stage's backward scale for a micro-batch with `num_tokens` loss tokens (Megatron's
// schedule: 1 / max(tokens, 1) / num_microbatches unless per-token loss, times the loss scale).
float last_stage_loss_grad_scale(const PipelineIteration& iteration, double num_tokens);

// `pp`: the pipeline group's communicator for the model's tensors (its rank is the stage).
model::LossPair run_one_f_one_b(model::GPTModel& model, comm::Communicator& pp, const PipelineIteration& iteration);

}  // namespace mcpp::parallel
