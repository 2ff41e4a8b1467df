#pragma once
// The GPT model shard of one rank: embedding, transformer layers, final norm, output layer
// (tied to the word embedding unless --untie-embeddings-and-output-weights) and fused
// cross-entropy. Explicit forward and backward per micro-batch; parameters and fp32 gradients
// live in a ParamBuffer and gradients ACCUMULATE across micro-batches until zero_grads().
#include <memory>
#include <vector>

#include "core/model/embedding_layer.h"
#include "core/model/model_config.h"
#include "core/model/norm_layer.h"
#include "core/model/param_buffer.h"
#include "core/model/random_streams.h"
#include "core/model/recompute_plan.h"
#include "core/model/transformer_layer.h"

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

class GPTModel {
 public:
  // `config` must be finalized for parallel.tp_size. Parameters are initialised from config.seed.
  GPTModel(ModelConfig config, const ParallelContext& parallel, Device device = Device::CPU);

  const ModelConfig& config() const { return config_; }
  ParamBuffer& params() { return *params_; }
  const ParamBuffer& params() const { return *params_; }
  // The training loop sets dropout().step before each micro-batch and dropout().training.
  DropoutState& dropout() { return dropout_; }

  LossPair forward(const MicroBatch& batch);
  // Backpropagates d(loss_sum · loss_grad_scale) of the last forward; Megatron's scale is
  // 1 / max(num_tokens, 1) / num_microbatches (times the fp16 loss scale).
  void backward(float loss_grad_scale);
  void zero_grads() { params_->zero_grads(); }

 private:
  ModelConfig config_;
  const ParallelContext& parallel_;
  std::unique_ptr<ParamBuffer> params_;
  DropoutState dropout_;
  DropoutState forward_dropout_;  // the state of the last forward (replayed by recompute)
  std::unique_ptr<EmbeddingLayer> embedding_;
  std::vector<std::unique_ptr<TransformerLayer>> layers_;
  std::unique_ptr<NormLayer> final_norm_;
  ParamRef output_weight_;
  std::vector<RecomputeSegment> segments_;

  // Cached for backward.
  std::vector<Tensor> segment_inputs_;
  Tensor doc_offsets_, final_out_, logits_, labels_, loss_mask_, lse_;
};

}  // namespace mcpp::model
