#pragma once
// Per-parameter metadata: the Megatron state-dict key (with the GLOBAL layer index), the global
// shape and where this rank's shard sits in it, how tensor parallelism splits it, and the flags
// the optimizer and gradient reduction need. Built once per model from the config and the
// parallel context, in Megatron's module registration order.
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/tensor.h"
#include "core/model/model_config.h"
#include "core/model/parallel_context.h"

namespace mcpp::model {

enum class ParamInit {
  normal,         // N(0, init_method_std)
  scaled_normal,  // N(0, init_method_std / sqrt(2 * num_layers)): linear_proj, linear_fc2
  ones,           // norm weights
  zeros,          // biases, LayerNorm bias
};

struct ParamInfo {
  std::string key;                    // e.g. "decoder.layers.3.mlp.linear_fc1.weight"
  std::vector<int64_t> global_shape;  // shape of the full (unsharded) tensor
  std::vector<int64_t> local_shape;   // this rank's shard
  // TP split: dimension (-1 = replicated) and number of independent chunks along it. A chunked
  // dimension is split chunk by chunk (SwiGLU fc1 = [gate ; up] has 2: each rank holds
  // [gate_shard ; up_shard]); offsets[d] is the shard's start inside each chunk.
  int tp_split_dim = -1;
  int tp_chunks = 1;
  std::vector<int64_t> offsets;
  ParamInit init = ParamInit::normal;
  double init_std = 0;
  bool no_weight_decay = false;    // biases and 1-D parameters
  bool is_expert = false;          // MoE expert weights (reduced over the expert-DP group)
  bool sequence_parallel = false;  // replicated over TP but fed s/tp tokens: grads all-reduced over TP
  bool shared = false;             // tied duplicate (output layer copy of the word embedding)
  // Key whose Philox stream initialises the values (empty: `key`). The last pipeline stage's tied
  // output-layer copy draws from the word embedding's stream, so both copies start equal.
  std::string init_key;

  int64_t local_numel() const;
  int64_t global_numel() const;
  Shape global_tensor_shape() const { return to_shape(global_shape); }
  Shape local_tensor_shape() const { return to_shape(local_shape); }
  static Shape to_shape(const std::vector<int64_t>& dims);
  // Row-major index in the global tensor of the element at row-major index `local` of the shard.
  int64_t global_index(int64_t local) const;
};

// Every parameter of the GPT model shard of this rank, in registration order.
std::vector<ParamInfo> gpt_param_infos(const ModelConfig& config, const ParallelContext& parallel);

}  // namespace mcpp::model
