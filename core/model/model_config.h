#pragma once
// The GPT architecture as Megatron's flags describe it. Fields hold the flag values (0 / unset
// where Megatron's default is derived); finalize() fills in the derived defaults exactly as
// Megatron's validate_args does and rejects impossible combinations with a one-line error that
// names the flag.
#include <cstdint>
#include <string>

#include "core/base/dtype.h"

namespace mcpp::model {

enum class PositionEmbedding { learned_absolute, rope };
enum class Normalization { LayerNorm, RMSNorm };
enum class RecomputeGranularity { none, selective, full };
enum class RecomputeMethod { none, uniform, block };

struct ModelConfig {
  int num_layers = 0;                // --num-layers
  int hidden = 0;                    // --hidden-size
  int ffn_hidden = 0;                // --ffn-hidden-size (0: 4h, or int(4h*2/3/64)*64 with swiglu)
  int heads = 0;                     // --num-attention-heads
  int query_groups = 0;              // --num-query-groups (0: no GQA, groups = heads)
  int kv_channels = 0;               // --kv-channels (0: hidden / heads)
  int seq_length = 0;                // --seq-length
  int max_position_embeddings = 0;   // --max-position-embeddings (0: seq_length)
  PositionEmbedding position_embedding = PositionEmbedding::learned_absolute;
  double rotary_base = 10000;        // --rotary-base
  double rotary_percent = 1.0;       // --rotary-percent
  Normalization normalization = Normalization::LayerNorm;
  double norm_epsilon = 1e-5;        // --norm-epsilon
  bool swiglu = false;               // --swiglu
  bool add_bias_linear = true;       // --disable-bias-linear clears it
  bool untie_embeddings = false;     // --untie-embeddings-and-output-weights
  int64_t padded_vocab_size = 0;     // after padding to make-vocab-size-divisible-by * tp
  double attention_dropout = 0.1;    // --attention-dropout
  double hidden_dropout = 0.1;       // --hidden-dropout
  double init_method_std = 0.02;     // --init-method-std
  RecomputeGranularity recompute = RecomputeGranularity::none;  // --recompute-granularity
  RecomputeMethod recompute_method = RecomputeMethod::none;     // --recompute-method
  int recompute_num_layers = 0;      // --recompute-num-layers
  uint64_t seed = 1234;              // --seed
  // The dtype layers compute in: BF16 with --bf16 and F16 with --fp16 on a GPU (fp32 main
  // parameters and gradients stay in the buffers), F32 otherwise.
  DType compute_dtype = DType::F32;

  // Fills derived defaults and validates; throws mcpp::Error naming the offending flag.
  // `tp` is the tensor-parallel size the model will be sharded over.
  void finalize(int tp = 1);

  // Derived sizes (valid after finalize()).
  int heads_per_group() const { return heads / query_groups; }
  int q_width() const { return heads * kv_channels; }          // query projection width
  int kv_width() const { return query_groups * kv_channels; }  // key (= value) projection width
  int qkv_rows() const { return q_width() + 2 * kv_width(); }
  int fc1_rows() const { return swiglu ? 2 * ffn_hidden : ffn_hidden; }
  int rotary_dim() const;  // leading channels of each head that RoPE rotates
};

// Megatron's default for an unset --ffn-hidden-size.
int default_ffn_hidden(int hidden, bool swiglu);

}  // namespace mcpp::model
