#include "core/model/transformer_layer.h"

#include <utility>

#include "core/kernels/dropout.h"
#include "core/kernels/elementwise.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

namespace {
// d/dx of dropout(x): dy itself when dropout is off (the layers only read their output gradient).
Tensor dropout_grad(const Tensor& dy, bool dropped, float p, const PhiloxStream& rng) {
  if (!dropped) return dy;
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  core::dropout_backward(dy, p, rng, dx);
  return dx;
}

std::string layer_prefix(int layer) { return "decoder.layers." + std::to_string(layer) + "."; }

AttentionParams attention_params(const ParamBuffer& p, const std::string& prefix) {
  const std::string a = prefix + "self_attention.";
  return {p.ref(a + "linear_qkv.weight"), p.ref(a + "linear_qkv.bias"),
          p.ref(a + "linear_proj.weight"), p.ref(a + "linear_proj.bias")};
}

MlpParams mlp_params(const ParamBuffer& p, const std::string& prefix) {
  const std::string m = prefix + "mlp.";
  return {p.ref(m + "linear_fc1.weight"), p.ref(m + "linear_fc1.bias"), p.ref(m + "linear_fc2.weight"),
          p.ref(m + "linear_fc2.bias")};
}
}  // namespace

TransformerLayer::TransformerLayer(const ModelConfig& config, const ParallelContext& parallel,
                                   const ParamBuffer& params, int global_layer)
    : parallel_(parallel),
      hidden_dropout_(static_cast<float>(config.hidden_dropout)),
      global_layer_(global_layer),
      input_norm_(config, params.ref(layer_prefix(global_layer) + "input_layernorm.weight"),
                  params.ref(layer_prefix(global_layer) + "input_layernorm.bias")),
      pre_mlp_norm_(config, params.ref(layer_prefix(global_layer) + "pre_mlp_layernorm.weight"),
                    params.ref(layer_prefix(global_layer) + "pre_mlp_layernorm.bias")),
      attention_(config, parallel, global_layer, attention_params(params, layer_prefix(global_layer))),
      mlp_(config, parallel, mlp_params(params, layer_prefix(global_layer))) {}

Tensor TransformerLayer::forward(const Tensor& x, const Tensor& doc_offsets, const DropoutState& dropout) {
  dropped_ = dropout.training && hidden_dropout_ > 0;
  attention_rng_ = dropout.stream(global_layer_, DropoutSite::post_attention);
  mlp_rng_ = dropout.stream(global_layer_, DropoutSite::post_mlp);
  attention_rng_.offset = mlp_rng_.offset = sequence_shard_offset(parallel_, x);

  Tensor attention_out = attention_.forward(input_norm_.forward(x), doc_offsets, dropout);
  if (dropped_) core::dropout_forward(attention_out, hidden_dropout_, attention_rng_, attention_out);
  // hidden = x + attention_out, added inside the pre-MLP norm's pass.
  auto [hidden, normed] = pre_mlp_norm_.forward_add(x, attention_out);

  if (!dropped_) return mlp_.forward(normed, hidden);  // out = hidden + mlp(...), added by the MLP
  Tensor mlp_out = mlp_.forward(normed);
  core::dropout_forward(mlp_out, hidden_dropout_, mlp_rng_, mlp_out);
  core::add(hidden, mlp_out, mlp_out);
  return mlp_out;
}

Tensor TransformerLayer::backward(const Tensor& dy, DeferredWeightGrads* deferred) {
  // out = hidden + dropout(mlp(norm(hidden))): d hidden = dy + norm'(mlp'(dropout'(dy))), the
  // residual term added by the norm's backward (one pass on the GPU).
  Tensor dhidden =
      pre_mlp_norm_.backward(mlp_.backward(dropout_grad(dy, dropped_, hidden_dropout_, mlp_rng_), deferred), dy);
  return input_norm_.backward(
      attention_.backward(dropout_grad(dhidden, dropped_, hidden_dropout_, attention_rng_), deferred), dhidden);
}

void TransformerLayer::swap_saved(Saved& other) {
  input_norm_.swap_saved(other.input_norm);
  pre_mlp_norm_.swap_saved(other.pre_mlp_norm);
  attention_.swap_saved(other.attention);
  mlp_.swap_saved(other.mlp);
  std::swap(dropped_, other.dropped);
  std::swap(attention_rng_, other.attention_rng);
  std::swap(mlp_rng_, other.mlp_rng);
}

void TransformerLayer::release() {
  input_norm_.release();
  pre_mlp_norm_.release();
  attention_.release();
  mlp_.release();
}

}  // namespace mcpp::model
