#pragma once
// Megatron's SelfAttention for this rank's shard of heads: column-parallel fused QKV projection
// (rows grouped per query group: that group's query heads, its key head, its value head; TP
// splits whole groups), RoPE on q and k, causal core attention (GQA, optional document
// boundaries, attention dropout), row-parallel output projection whose partial sums are
// all-reduced over TP before the (replicated) bias is added. Under sequence parallelism the input
// is all-gathered along the sequence and the output reduce-scattered (tp_mappings.h).
#include "core/base/tensor.h"
#include "core/kernels/attention.h"
#include "core/model/deferred_weight_grads.h"
#include "core/model/model_config.h"
#include "core/model/parallel_context.h"
#include "core/model/param_buffer.h"
#include "core/model/random_streams.h"

namespace mcpp::model {

struct AttentionParams {
  ParamRef qkv_weight, qkv_bias, proj_weight, proj_bias;
};

class AttentionLayer {
 public:
  AttentionLayer(const ModelConfig& config, const ParallelContext& parallel, int global_layer,
                 AttentionParams params);
  // x [s, b, h]; doc_offsets I64 [b, m + 1] or undefined. Returns [s, b, h] (bias included).
  Tensor forward(const Tensor& x, const Tensor& doc_offsets, const DropoutState& dropout);
  // dy and the returned dx have x's (sequence-shard) shape.
  // With `deferred`, the weight and bias gradients of linear_qkv and linear_proj are set aside
  // into it.
  Tensor backward(const Tensor& dy, DeferredWeightGrads* deferred = nullptr);
  void release();
  // Selective recompute: drop the core attention's output and softmax statistics after forward
  // and recompute them from q, k, v in backward.
  void set_recompute_core(bool recompute) { recompute_core_ = recompute; }

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    Tensor x, qkv, q, k, v, context, lse;
    core::AttentionOptions options;  // this micro-batch's document offsets and dropout stream
    // True while core attention reads q, k, v in place from qkv (attention_reads_fused_qkv): no
    // split into q, k, v and no merge of their gradients.
    bool fused_qkv = false;
  };
  void swap_saved(Saved& other);

 private:
  void run_core();

  const ParallelContext& parallel_;
  int heads_per_group_, local_heads_, local_groups_, head_dim_;
  bool rope_;
  float rotary_base_, rotary_percent_, attention_dropout_;
  AttentionParams params_;
  int global_layer_;
  bool recompute_core_ = false;
  Saved saved_;  // what the last forward kept for its backward
};

}  // namespace mcpp::model
