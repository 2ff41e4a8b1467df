#pragma once
// Megatron's MLP for this rank's shard: column-parallel fc1 (with SwiGLU the shard's rows are
// [gate_shard ; up_shard]), GELU (tanh) or SwiGLU, row-parallel fc2 whose partial sums are
// all-reduced over TP before the (replicated) bias is added (with sequence parallelism: input
// all-gathered, output reduce-scattered along the sequence).
#include "core/base/tensor.h"
#include "core/model/deferred_weight_grads.h"
#include "core/model/model_config.h"
#include "core/model/parallel_context.h"
#include "core/model/param_buffer.h"

namespace mcpp::model {

struct MlpParams {
  ParamRef fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

class MlpLayer {
 public:
  MlpLayer(const ModelConfig& config, const ParallelContext& parallel, MlpParams params);
  // [s, b, h] -> [s, b, h]; with `residual` (of the output's shape) the output is
  // residual + mlp(x), the residual entering fc2's GEMM where the bias can (one GPU, no TP).
  Tensor forward(const Tensor& x, const Tensor& residual = Tensor());
  // With `deferred`, the weight and bias gradients of fc1 and fc2 are set aside into it.
  Tensor backward(const Tensor& dy, DeferredWeightGrads* deferred = nullptr);
  void release();

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    Tensor x, fc1_out, activation;
  };
  void swap_saved(Saved& other);

 private:
  const ParallelContext& parallel_;
  bool swiglu_;
  MlpParams params_;
  Saved saved_;  // what the last forward kept for its backward
};

}  // namespace mcpp::model
