#pragma once
// One pre-norm GPT transformer layer (Megatron's TransformerLayer):
//   h   = x + dropout(attention(input_layernorm(x)))
//   out = h + dropout(mlp(pre_mlp_layernorm(h)))
// Hidden dropout (--hidden-dropout) draws from streams keyed by (step, global layer, site), so
// re-running the forward (activation recompute) reproduces the same masks.
#include <string>

#include "core/model/attention_layer.h"
#include "core/model/mlp_layer.h"
#include "core/model/norm_layer.h"

namespace mcpp::model {

class TransformerLayer {
 public:
  // `global_layer` is the 0-based layer index in the whole model (state-dict keys, RNG streams).
  TransformerLayer(const ModelConfig& config, const ParallelContext& parallel, const ParamBuffer& params,
                   int global_layer);
  Tensor forward(const Tensor& x, const Tensor& doc_offsets, const DropoutState& dropout);
  // With `deferred`, the linear layers' weight and bias gradients are set aside into it (the
  // norms' come with their input gradients).
  Tensor backward(const Tensor& dy, DeferredWeightGrads* deferred = nullptr);
  // Drops every cached activation (full recompute keeps only the layer's input).
  void release();
  void set_selective_recompute(bool on) { attention_.set_recompute_core(on); }

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    NormLayer::Saved input_norm, pre_mlp_norm;
    AttentionLayer::Saved attention;
    MlpLayer::Saved mlp;
    bool dropped = false;
    PhiloxStream attention_rng, mlp_rng;
  };
  void swap_saved(Saved& other);

 private:
  const ParallelContext& parallel_;
  float hidden_dropout_;
  int global_layer_;
  NormLayer input_norm_, pre_mlp_norm_;
  AttentionLayer attention_;
  MlpLayer mlp_;
  bool dropped_ = false;
  PhiloxStream attention_rng_, mlp_rng_;
};

}  // namespace mcpp::model
