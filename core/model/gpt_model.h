#pragma once
// The GPT model shard of one rank: embedding, transformer layers, final norm, output layer
// (tied to the word embedding unless --untie-embeddings-and-output-weights) and fused
// cross-entropy. Explicit forward and backward per micro-batch; parameters and fp32 gradients
// live in a ParamBuffer and gradients ACCUMULATE across micro-batches until zero_grads().
#include <functional>
#include <memory>
#include <vector>

#include "core/model/deferred_weight_grads.h"
#include "core/model/embedding_layer.h"
#include "core/model/model_config.h"
#include "core/model/norm_layer.h"
#include "core/model/param_buffer.h"
#include "core/model/random_streams.h"
#include "core/model/recompute_plan.h"
#include "core/model/transformer_layer.h"
#include "core/model/vocab_parallel_cross_entropy.h"

namespace mcpp::model {

// One micro-batch as Megatron's get_batch hands it over: batch-first [b, s].
struct MicroBatch {
  Tensor tokens;        // I64 [b, s]
  Tensor labels;        // I64 [b, s] (tokens shifted by one)
  Tensor loss_mask;     // F32 [b, s], or undefined = all ones
  Tensor position_ids;  // I64 [b, s], or undefined = 0..s-1 (learned positions only; RoPE uses 0..s-1)
  Tensor doc_offsets;   // I64 [b, m + 1] document starts for document-bounded attention, or undefined
};

// What Megatron's loss_func returns: the masked sum of token losses and the number of tokens.
struct LossPair {
  double loss_sum = 0;
  double num_tokens = 0;
};

// The part of the model one pipeline stage holds: transformer layers [first_layer, first_layer +
// num_layers), the embedding on the first stage (pre_process), final norm, output layer and loss
// on the last (post_process). The default is the whole model.
struct PipelineStage {
  int first_layer = 0;
  int num_layers = -1;  // -1: all layers
  bool pre_process = true;
  bool post_process = true;
};

// The elements of the parameters `stage` holds on this rank (its tensor-parallel shard, the tied
// output-layer copy included): what Megatron counts for --ddp-num-buckets.
int64_t stage_parameter_count(const ModelConfig& config, const ParallelContext& parallel, const PipelineStage& stage);

class GPTModel {
 public:
  // `config` must be finalized for parallel.tp_size. Parameters are initialised from config.seed.
  // The model keeps a copy of `parallel`; its communicator must outlive the model.
  // `layout` places parameters in the buffers (data-parallel buckets; parallel/grad_buffer.h);
  // `stage` selects this pipeline stage's part of the model.
  GPTModel(ModelConfig config, const ParallelContext& parallel, Device device = Device::CPU,
           const BufferLayout& layout = {}, const PipelineStage& stage = {});
  GPTModel(const GPTModel&) = delete;
  GPTModel& operator=(const GPTModel&) = delete;

  const ModelConfig& config() const { return config_; }
  ParamBuffer& params() { return *params_; }
  const ParamBuffer& params() const { return *params_; }
  // The training loop sets dropout().step before each micro-batch and dropout().training.
  DropoutState& dropout() { return dropout_; }

  const PipelineStage& stage() const { return stage_; }

  // `input`: the previous stage's output activation [s(/tp with SP), b, h], on every stage but
  // the first. The last stage returns the loss; the others return {0, 0} and leave their output
  // activation in stage_output(). A middle stage reads only the document offsets of `batch` (it
  // may be empty).
  LossPair forward(const MicroBatch& batch, const Tensor& input = Tensor());
  // Backpropagates d(loss_sum · loss_grad_scale) of the last forward; Megatron's scale is
  // 1 / max(num_tokens, 1) / num_microbatches (times the fp16 loss scale). A stage other than the
  // last instead takes the gradient of its output (`output_grad`, the next stage's input
  // gradient) and, unless it is the first, leaves its input gradient in stage_input_grad().
  void backward(float loss_grad_scale, const Tensor& output_grad = Tensor());
  // Everything one forward keeps for its backward. Pipeline schedules run several forwards before
  // the first backward: after each forward the executor swaps the activations out into a stash of
  // that micro-batch (leaving the model empty, as after a backward), and swaps them back in
  // before its backward, so no forward is ever run twice.
  struct Activations {
    EmbeddingLayer::Saved embedding;
    std::vector<TransformerLayer::Saved> layers;
    NormLayer::Saved final_norm;
    VocabParallelCrossEntropy::Saved loss;
    std::vector<Tensor> segment_inputs;
    Tensor doc_offsets, final_out, logits;
    DropoutState forward_dropout;
    bool forward_done = false;
  };
  void swap_activations(Activations& other);
  const Tensor& stage_output() const { return stage_output_; }
  const Tensor& stage_input_grad() const { return stage_input_grad_; }
  // Called during backward each time a part's gradients are final for this backward, so
  // data-parallel buckets can be reduced while backward goes on (--overlap-grad-reduce): with
  // num_layers after the output layer and final norm, with the global layer index after each
  // transformer layer, with -1 after the embedding. Empty: no calls.
  void set_backward_hook(std::function<void(int part)> hook) { backward_hook_ = std::move(hook); }
  // On the first stage: the first layer's weight-gradient GEMMs run after the embedding backward
  // (the hook then reports -1 before the first layer), so the reduction of the embedding's
  // gradients, final last, overlaps them. The gradients are bit-identical either way.
  void set_defer_first_layer_weight_grads(bool defer) { defer_first_layer_weight_grads_ = defer; }
  // Called in forward before a part first uses its parameters (same part numbers), so gathers of
  // updated parameters can complete just in time (--overlap-param-gather). Empty: no calls.
  void set_forward_hook(std::function<void(int part)> hook) { forward_hook_ = std::move(hook); }
  void zero_grads() { params_->zero_grads(); }

  // Inference: logits of every position, F32 [s, b, V_local] on the host (this rank's vocabulary
  // range; computed in the compute dtype), for
  // tokens I64 [b, s] with s <= the maximum position count. No dropout; nothing is kept for
  // backward.
  Tensor logits(const Tensor& tokens);
  // With sequence parallelism, replicated parameters fed only this rank's tokens (norms,
  // row-parallel biases) hold partial gradients: sum them over TP once all micro-batches of the
  // step are done (Megatron's finalize_model_grads).
  void reduce_sequence_parallel_grads();

 private:
  ModelConfig config_;
  const ParallelContext parallel_;  // layers hold references to this copy
  PipelineStage stage_;
  std::unique_ptr<ParamBuffer> params_;
  DropoutState dropout_;
  DropoutState forward_dropout_;  // the state of the last forward (replayed by recompute)
  std::unique_ptr<EmbeddingLayer> embedding_;
  std::vector<std::unique_ptr<TransformerLayer>> layers_;
  std::unique_ptr<NormLayer> final_norm_;
  ParamRef output_weight_;
  std::unique_ptr<VocabParallelCrossEntropy> loss_;
  std::vector<RecomputeSegment> segments_;

  // Cached for backward.
  std::vector<Tensor> segment_inputs_;
  Tensor doc_offsets_, final_out_, logits_;
  Tensor stage_output_, stage_input_grad_;
  bool forward_done_ = false;
  std::function<void(int)> backward_hook_;
  std::function<void(int)> forward_hook_;
  bool defer_first_layer_weight_grads_ = false;
  DeferredWeightGrads deferred_weight_grads_;
};

}  // namespace mcpp::model
