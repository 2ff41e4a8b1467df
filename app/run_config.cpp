#include "app/run_config.h"

#include "app/flags_optim.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "data/gpt/blend.h"

namespace mcpp::app {

std::optional<data::TokenizerOptions> tokenizer_options(const TrainArgs& args) {
  const DataArgs& d = args.data;
  if (!d.tokenizer_type) return std::nullopt;
  data::TokenizerOptions options;
  options.type = *d.tokenizer_type;
  options.tokenizer_model = d.tokenizer_model.value_or("");
  options.vocab_file = d.vocab_file.value_or("");
  options.merge_file = d.merge_file.value_or("");
  options.vocab_size = args.model.vocab_size;
  if (d.null_tokenizer_eod_id) options.null_eod_id = static_cast<int32_t>(*d.null_tokenizer_eod_id);
  return options;
}

model::ModelConfig model_config(const TrainArgs& args, const std::string& device) {
  const ModelArgs& m = args.model;
  check(args.derived.padded_vocab_size > 0,
        "the vocabulary size is unknown: give --tokenizer-type (and its files) or --vocab-size");
  model::ModelConfig config;
  config.num_layers = static_cast<int>(*m.num_layers);
  config.hidden = static_cast<int>(*m.hidden_size);
  config.ffn_hidden = static_cast<int>(args.derived.ffn_hidden_size);
  config.heads = static_cast<int>(*m.num_attention_heads);
  config.query_groups = static_cast<int>(args.derived.num_query_groups);
  config.kv_channels = static_cast<int>(args.derived.kv_channels);
  config.seq_length = static_cast<int>(*m.seq_length);
  config.max_position_embeddings = static_cast<int>(m.max_position_embeddings.value_or(*m.seq_length));
  config.position_embedding = args.derived.use_rope ? model::PositionEmbedding::rope
                                                    : model::PositionEmbedding::learned_absolute;
  config.rotary_base = static_cast<double>(m.rotary_base);
  config.rotary_percent = m.rotary_percent;
  config.normalization = m.normalization == "RMSNorm" ? model::Normalization::RMSNorm
                                                      : model::Normalization::LayerNorm;
  config.norm_epsilon = m.norm_epsilon;
  config.swiglu = m.swiglu;
  config.add_bias_linear = m.add_bias_linear;
  config.untie_embeddings = m.untie_embeddings_and_output_weights;
  config.padded_vocab_size = args.derived.padded_vocab_size;
  config.attention_dropout = m.attention_dropout;
  config.hidden_dropout = m.hidden_dropout;
  config.init_method_std = m.init_method_std;
  const std::string& granularity = args.derived.recompute_granularity;
  config.recompute = granularity == "full"        ? model::RecomputeGranularity::full
                     : granularity == "selective" ? model::RecomputeGranularity::selective
                                                  : model::RecomputeGranularity::none;
  const std::string method = args.training.recompute_method.value_or("");
  config.recompute_method = method == "uniform" ? model::RecomputeMethod::uniform
                            : method == "block" ? model::RecomputeMethod::block
                                                : model::RecomputeMethod::none;
  config.recompute_num_layers = static_cast<int>(args.training.recompute_num_layers.value_or(0));
  config.seed = static_cast<uint64_t>(args.training.seed);
  // Megatron's mixed precision: bf16 or fp16 layers over fp32 main parameters (on the GPU; the
  // CPU reference computes in fp32).
  if (device == "cuda" && args.precision.bf16) config.compute_dtype = DType::BF16;
  if (device == "cuda" && args.precision.fp16) config.compute_dtype = DType::F16;
  config.finalize(static_cast<int>(args.parallel.tensor_model_parallel_size));
  return config;
}

data::GptDataConfig data_config(const TrainArgs& args, const data::Tokenizer* tokenizer) {
  const DataArgs& d = args.data;
  data::GptDataConfig config;
  const std::array<const std::optional<std::vector<std::string>>*, 3> per_split = {
      &d.train_data_path, &d.valid_data_path, &d.test_data_path};
  const char* flags[3] = {"--train-data-path", "--valid-data-path", "--test-data-path"};
  for (int i = 0; i < 3; ++i) {
    if (*per_split[i] && !(*per_split[i])->empty()) {
      config.blend_per_split[i] = data::parse_blend(**per_split[i], flags[i]);
    }
  }
  if (d.data_path && !d.data_path->empty()) config.blend = data::parse_blend(*d.data_path, "--data-path");
  const bool any_path = config.blend || config.blend_per_split[0] || config.blend_per_split[1] ||
                        config.blend_per_split[2];
  config.mock = d.mock_data || !any_path;
  if (config.mock) {
    config.split = "1,1,1";
  } else if (d.split) {
    config.split = *d.split;
  } else if (config.blend) {
    log::warn("--split not given: using Megatron's default \"969, 30, 1\"");
  }
  config.seq_length = *args.model.seq_length;
  check(args.training.seed >= 0 && args.training.seed <= 0xffffffffLL,
        "--seed must be in [0, 2^32) (Megatron seeds numpy's RandomState with it)");
  config.seed = static_cast<uint32_t>(args.training.seed);
  config.cache_path = d.data_cache_path;
  config.sample.reset_position_ids = d.reset_position_ids;
  config.sample.reset_attention_mask = d.reset_attention_mask;
  config.sample.eod_mask_loss = d.eod_mask_loss;
  if (tokenizer) {
    config.set_tokenizer(*tokenizer);
  } else {
    check(args.model.vocab_size.has_value(),
          "--mock-data without a tokenizer needs --vocab-size (or give --tokenizer-type)");
    config.vocab_size = *args.model.vocab_size;
    config.sample.eod_id = static_cast<int32_t>(*args.model.vocab_size - 1);
  }
  return config;
}

data::SplitSampleCounts split_sample_counts(const TrainArgs& args) {
  const int64_t gbs = *args.training.global_batch_size;
  const int64_t iters = train_iterations(args);
  const int64_t train = args.training.train_samples.value_or(iters * gbs);
  const int64_t eval_iters = args.logging.eval_iters;
  const int64_t valid = (iters / args.logging.eval_interval + 1) * eval_iters * gbs;
  const int64_t test = eval_iters * gbs;
  return {train, valid, test};
}

}  // namespace mcpp::app
