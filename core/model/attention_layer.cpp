#include "core/model/attention_layer.h"

#include <cmath>
#include <utility>

#include "core/kernels/elementwise.h"
#include "core/kernels/linear.h"
#include "core/kernels/rope.h"
#include "core/model/tensor_layout.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

AttentionLayer::AttentionLayer(const ModelConfig& config, const ParallelContext& parallel,
                               int global_layer, AttentionParams params)
    : parallel_(parallel),
      heads_per_group_(config.heads_per_group()),
      local_heads_(config.heads / parallel.tp_size),
      local_groups_(config.query_groups / parallel.tp_size),
      head_dim_(config.kv_channels),
      rope_(config.position_embedding == PositionEmbedding::rope),
      rotary_base_(static_cast<float>(config.rotary_base)),
      rotary_percent_(static_cast<float>(config.rotary_percent)),
      attention_dropout_(static_cast<float>(config.attention_dropout)),
      params_(std::move(params)),
      global_layer_(global_layer) {}

void AttentionLayer::run_core() {
  const Tensor& input = saved_.fused_qkv ? saved_.qkv : saved_.q;
  const int64_t s = input.dim(0), b = input.dim(1);
  saved_.context = Tensor::empty({s, b, local_heads_, head_dim_}, input.dtype(), input.device());
  saved_.lse = Tensor::empty({b, local_heads_, s}, DType::F32, input.device());
  if (saved_.fused_qkv)
    core::attention_forward_fused_qkv(saved_.qkv, local_heads_, saved_.options, saved_.context, saved_.lse);
  else
    core::attention_forward(saved_.q, saved_.k, saved_.v, saved_.options, saved_.context, saved_.lse);
}

Tensor AttentionLayer::forward(const Tensor& x, const Tensor& doc_offsets, const DropoutState& dropout) {
  // Column-parallel QKV on the full sequence (all-gathered under sequence parallelism).
  saved_.x = enter_column_parallel(parallel_, x);
  const int64_t s = saved_.x.dim(0), b = saved_.x.dim(1), h = saved_.x.dim(2);
  const Device device = x.device();
  const DType dtype = x.dtype();  // activations follow the input (bf16 under mixed precision)
  Tensor qkv = Tensor::empty({s, b, params_.qkv_weight.value.dim(0)}, dtype, device);
  core::linear_forward(saved_.x, params_.qkv_weight.value, params_.qkv_bias.value, qkv);
  saved_.options = core::AttentionOptions{};
  saved_.options.softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  saved_.options.causal = true;
  saved_.options.doc_offsets = doc_offsets;
  if (dropout.training && attention_dropout_ > 0) {
    saved_.options.dropout_p = attention_dropout_;
    saved_.options.dropout_rng = dropout.stream(global_layer_, DropoutSite::attention_probs);
  }
  // In place only where q, k, v are untouched slices of qkv: no RoPE, one query head per group.
  saved_.fused_qkv =
      !rope_ && heads_per_group_ == 1 && core::attention_reads_fused_qkv(qkv, local_heads_, saved_.options);
  if (saved_.fused_qkv) {
    saved_.qkv = qkv;
    saved_.q = saved_.k = saved_.v = Tensor();
  } else {
    saved_.qkv = Tensor();
    saved_.q = Tensor::empty({s, b, local_heads_, head_dim_}, dtype, device);
    saved_.k = Tensor::empty({s, b, local_groups_, head_dim_}, dtype, device);
    saved_.v = Tensor::empty({s, b, local_groups_, head_dim_}, dtype, device);
    split_qkv(qkv, heads_per_group_, saved_.q, saved_.k, saved_.v);
    if (rope_) {
      const core::RopeOptions rope{rotary_base_, rotary_percent_, 1.0f};
      core::rope_forward(saved_.q, Tensor(), rope, saved_.q);
      core::rope_forward(saved_.k, Tensor(), rope, saved_.k);
    }
  }
  run_core();
  // Row-parallel projection: partial sums over this rank's heads, reduced (and scattered along
  // the sequence under sequence parallelism), then the bias.
  Tensor partial = Tensor::empty({s, b, h}, dtype, device);
  const Tensor& proj_bias = params_.proj_bias.value;
  const bool fold_bias = fold_row_parallel_bias(parallel_, partial);
  core::linear_forward(saved_.context.view({s, b, int64_t(local_heads_) * head_dim_}), params_.proj_weight.value,
                       fold_bias ? proj_bias : Tensor(), partial);
  Tensor out = leave_row_parallel(parallel_, partial);
  if (proj_bias.defined() && !fold_bias) core::bias_add(out, proj_bias, out);
  if (recompute_core_) {
    saved_.context = Tensor();
    saved_.lse = Tensor();
  }
  return out;
}

Tensor AttentionLayer::backward(const Tensor& dy_local, DeferredWeightGrads* deferred) {
  if (!saved_.context.defined()) run_core();  // selective recompute
  // Where the forward folded the bias into the GEMM, its gradient comes from the weight-gradient
  // GEMM (one pass over dy).
  const bool bias_grad_in_linear = fold_row_parallel_bias(parallel_, dy_local);
  if (params_.proj_bias.defined() && !bias_grad_in_linear) core::bias_grad(dy_local, params_.proj_bias.grad);
  const Tensor dy = leave_row_parallel_backward(parallel_, dy_local);
  const int64_t s = dy.dim(0), b = dy.dim(1);
  const Device device = dy.device();
  const DType dtype = dy.dtype();
  const int64_t width = int64_t(local_heads_) * head_dim_;
  Tensor dcontext = Tensor::empty({s, b, local_heads_, head_dim_}, dtype, device);
  linear_backward_deferrable(saved_.context.view({s, b, width}), params_.proj_weight.value, dy,
                             dcontext.view({s, b, width}), params_.proj_weight.grad,
                             bias_grad_in_linear ? params_.proj_bias.grad : Tensor(), deferred);
  Tensor dqkv = Tensor::empty({s, b, params_.qkv_weight.value.dim(0)}, dtype, device);
  if (saved_.fused_qkv) {
    core::attention_backward_fused_qkv(saved_.qkv, local_heads_, saved_.context, saved_.lse, dcontext, saved_.options,
                                       dqkv);
  } else {
    Tensor dq = Tensor::empty(saved_.q.shape(), dtype, device);
    Tensor dk = Tensor::empty(saved_.k.shape(), dtype, device);
    Tensor dv = Tensor::empty(saved_.v.shape(), dtype, device);
    core::attention_backward(saved_.q, saved_.k, saved_.v, saved_.context, saved_.lse, dcontext, saved_.options, dq, dk,
                             dv);
    if (rope_) {
      const core::RopeOptions rope{rotary_base_, rotary_percent_, 1.0f};
      core::rope_backward(dq, Tensor(), rope, dq);
      core::rope_backward(dk, Tensor(), rope, dk);
    }
    merge_qkv(dq, dk, dv, heads_per_group_, dqkv);
  }
  Tensor dx = Tensor::empty(saved_.x.shape(), dtype, device);
  linear_backward_deferrable(saved_.x, params_.qkv_weight.value, dqkv, dx, params_.qkv_weight.grad,
                             params_.qkv_bias.grad, deferred);
  if (recompute_core_) {
    saved_.context = Tensor();
    saved_.lse = Tensor();
  }
  return enter_column_parallel_backward(parallel_, dx);
}

void AttentionLayer::swap_saved(Saved& other) { std::swap(saved_, other); }

void AttentionLayer::release() { saved_ = Saved{}; }

}  // namespace mcpp::model
