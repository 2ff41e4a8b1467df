#pragma once
// Megatron's LanguageModelEmbedding: vocab-parallel word embedding (+ learned absolute position
// embedding), then embedding dropout (--hidden-dropout). Output is sequence-first [s, b, h]
// ([s/tp, b, h], this rank's sequence slice, with --sequence-parallel).
#include "core/base/tensor.h"
#include "core/model/model_config.h"
#include "core/model/parallel_context.h"
#include "core/model/param_buffer.h"
#include "core/model/random_streams.h"

namespace mcpp::model {

class EmbeddingLayer {
 public:
  EmbeddingLayer(const ModelConfig& config, const ParallelContext& parallel, ParamRef word,
                 ParamRef position);
  // tokens I64 [s, b]; positions I64 [s, b] or undefined (= sequence index).
  Tensor forward(const Tensor& tokens, const Tensor& positions, const DropoutState& dropout);
  // Accumulates the embedding tables' gradients from dy [s, b, h].
  void backward(const Tensor& dy);
  void release();

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    Tensor tokens, positions;
    PhiloxStream rng;
    bool dropped = false;
  };
  void swap_saved(Saved& other);

 private:
  float dropout_p_;
  const ParallelContext& parallel_;  // (declared first: vocab_start_ depends on it)
  ParamRef word_, position_;
  int64_t vocab_start_;
  Saved saved_;  // what the last forward kept for its backward
};

}  // namespace mcpp::model
