#include "core/model/model_config.h"

#include <cmath>
#include <string>

#include "core/base/error.h"

namespace mcpp::model {

namespace {
std::string num(double value) {
  std::string text = std::to_string(value);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}
}  // namespace

int default_ffn_hidden(int hidden, bool swiglu) {
  if (!swiglu) return 4 * hidden;
  // Megatron: int((4 * h * 2 / 3) / 64) * 64, computed in Python floats.
  return static_cast<int>((4.0 * hidden * 2.0 / 3.0) / 64.0) * 64;
}

void ModelConfig::finalize(int tp) {
  check(num_layers > 0, "--num-layers is required and must be positive");
  check(hidden > 0, "--hidden-size is required and must be positive");
  check(heads > 0, "--num-attention-heads is required and must be positive");
  check(seq_length > 0, "--seq-length is required and must be positive");
  check(tp > 0, "--tensor-model-parallel-size must be positive");
  if (query_groups == 0) query_groups = heads;
  check(query_groups > 0, "--num-query-groups must be positive");
  check(heads % query_groups == 0, "--num-query-groups " + std::to_string(query_groups) +
                                       " does not divide --num-attention-heads " +
                                       std::to_string(heads));
  if (kv_channels == 0) {
    check(hidden % heads == 0, "--num-attention-heads " + std::to_string(heads) +
                                   " does not divide --hidden-size " + std::to_string(hidden) +
                                   " (or pass --kv-channels)");
    kv_channels = hidden / heads;
  }
  check(kv_channels > 0, "--kv-channels must be positive");
  if (ffn_hidden == 0) ffn_hidden = default_ffn_hidden(hidden, swiglu);
  check(ffn_hidden > 0, "--ffn-hidden-size must be positive");
  if (max_position_embeddings == 0) max_position_embeddings = seq_length;
  check(max_position_embeddings >= seq_length,
        "--max-position-embeddings " + std::to_string(max_position_embeddings) +
            " is smaller than --seq-length " + std::to_string(seq_length));
  check(padded_vocab_size > 0, "padded vocabulary size must be positive (set --vocab-size or a tokenizer)");
  check(rotary_percent > 0 && rotary_percent <= 1,
        "--rotary-percent " + num(rotary_percent) + " must be in (0, 1]");
  if (position_embedding == PositionEmbedding::rope)
    check(rotary_dim() % 2 == 0 && rotary_dim() > 0,
          "--rotary-percent " + num(rotary_percent) + " times --kv-channels " +
              std::to_string(kv_channels) + " must give an even number of rotary channels");
  check(norm_epsilon > 0, "--norm-epsilon must be positive");
  check(attention_dropout >= 0 && attention_dropout < 1, "--attention-dropout must be in [0, 1)");
  check(hidden_dropout >= 0 && hidden_dropout < 1, "--hidden-dropout must be in [0, 1)");
  check(init_method_std > 0, "--init-method-std must be positive");

  // Tensor parallelism splits heads, query groups, the FFN and the vocabulary evenly.
  const std::string tp_flag = "--tensor-model-parallel-size " + std::to_string(tp);
  check(heads % tp == 0, tp_flag + " does not divide --num-attention-heads " + std::to_string(heads));
  check(query_groups % tp == 0,
        tp_flag + " does not divide --num-query-groups " + std::to_string(query_groups));
  check(ffn_hidden % tp == 0, tp_flag + " does not divide --ffn-hidden-size " + std::to_string(ffn_hidden));
  check(padded_vocab_size % tp == 0,
        tp_flag + " does not divide the padded vocabulary size " + std::to_string(padded_vocab_size));

  switch (recompute) {
    case RecomputeGranularity::none:
      check(recompute_method == RecomputeMethod::none,
            "--recompute-method needs --recompute-granularity full");
      break;
    case RecomputeGranularity::selective:
      check(recompute_method == RecomputeMethod::none,
            "--recompute-method applies only to --recompute-granularity full, not selective");
      check(recompute_num_layers == 0,
            "--recompute-num-layers applies only to --recompute-granularity full, not selective");
      break;
    case RecomputeGranularity::full:
      check(recompute_method != RecomputeMethod::none,
            "--recompute-granularity full needs --recompute-method uniform or block");
      check(recompute_num_layers >= 1 && recompute_num_layers <= num_layers,
            "--recompute-num-layers " + std::to_string(recompute_num_layers) +
                " must be between 1 and --num-layers " + std::to_string(num_layers));
      break;
  }
}

int ModelConfig::rotary_dim() const {
  return static_cast<int>(static_cast<double>(kv_channels) * rotary_percent);
}

}  // namespace mcpp::model
