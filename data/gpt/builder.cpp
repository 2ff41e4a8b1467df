#include "data/gpt/builder.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/log.h"
#include "data/gpt/blended_dataset.h"
#include "data/gpt/gpt_dataset.h"
#include "data/gpt/index_cache.h"
#include "data/gpt/mock_dataset.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

void GptDataConfig::set_tokenizer(const Tokenizer& tokenizer) {
  sample.eod_id = tokenizer.eod();
  const auto pad = tokenizer.pad();
  // A pad id equal to EOD would mask every EOD label; Megatron then falls back to "no pad".
  sample.pad_id = pad && *pad != sample.eod_id ? *pad : kNoPadId;
  vocab_size = tokenizer.vocab_size();
}

namespace {

class Builder {
 public:
  explicit Builder(const GptDataConfig& config) : config_(config) {}

  std::shared_ptr<const SampleDataset> build_split(const Blend& blend, SplitName split,
                                                   const std::pair<double, double>& fraction,
                                                   std::optional<int64_t> num_samples,
                                                   bool single_prefix_ignores_weights,
                                                   const std::string& flag) {
    const size_t k = blend.prefixes.size();
    if (k == 1 && (!blend.weights || single_prefix_ignores_weights)) {
      return dataset(source(blend.prefixes[0]), split, fraction, num_samples);
    }
    std::vector<std::shared_ptr<const SampleDataset>> components;
    if (blend.weights) {
      check(num_samples.has_value(), flag + " has weights, so the " +
                                         std::string(split_name(split)) +
                                         " split needs a sample count");
      const auto& weights = *blend.weights;
      int64_t size = 0;
      for (size_t i = 0; i < k; ++i) {
        // Each component is over-built by the surplus so the greedy blend never runs dry.
        const double target = std::ceil(static_cast<double>(*num_samples) * weights[i]);
        const auto request =
            static_cast<int64_t>(std::ceil(target * (1.0 + config_.mid_level_dataset_surplus)));
        size += static_cast<int64_t>(target);
        components.push_back(dataset(source(blend.prefixes[i]), split, fraction, request));
      }
      return std::make_shared<BlendedDataset>(std::move(components),
                                              build_blending_indices(weights, size),
                                              split_name(split));
    }
    // No weights: one epoch of each component, blended in proportion to their lengths.
    std::vector<int64_t> lengths;
    for (const auto& prefix : blend.prefixes) {
      components.push_back(dataset(source(prefix), split, fraction, std::nullopt));
      lengths.push_back(components.back()->size());
    }
    int64_t total = 0;
    for (int64_t length : lengths) {
      check(length > 0, flag + ": a dataset contributes no " + std::string(split_name(split)) +
                            " samples; remove it or change --split");
      total += length;
    }
    BlendingIndices indices;
    if (num_samples) {
      std::vector<double> raw(lengths.begin(), lengths.end());
      indices = build_blending_indices(normalize_weights(raw), std::min(*num_samples, total));
    } else {
      indices = build_exhaustive_blending_indices(lengths);
    }
    return std::make_shared<BlendedDataset>(std::move(components), std::move(indices),
                                            split_name(split));
  }

  std::shared_ptr<const SampleDataset> mock_split(SplitName split, const std::pair<double, double>& fraction,
                                                  std::optional<int64_t> num_samples) {
    if (!mock_source_) {
      mock_source_ = std::make_shared<MockTokenSource>(config_.vocab_size, config_.sample.eod_id);
    }
    return dataset(mock_source_, split, fraction, num_samples);
  }

 private:
  std::shared_ptr<const TokenSource> source(const std::string& prefix) {
    auto& slot = sources_[prefix];
    if (!slot) slot = std::make_shared<IndexedTokenSource>(prefix);
    return slot;
  }

  std::shared_ptr<const GptDataset> dataset(std::shared_ptr<const TokenSource> source, SplitName split,
                                            const std::pair<double, double>& fraction,
                                            std::optional<int64_t> num_samples) {
    const auto lengths = source->sequence_lengths();
    const auto range = split_range(fraction, static_cast<int64_t>(lengths.size()));
    GptIndexParams params;
    params.sequence_begin = range.first;
    params.sequence_end = range.second;
    params.seq_length = config_.seq_length;
    params.num_samples = num_samples;
    params.seed = config_.seed;
    params.drop_last_partial_sample =
        split != SplitName::valid || config_.drop_last_partial_validation_sequence;
    return std::make_shared<GptDataset>(source, indices(*source, split, params),
                                        config_.seq_length, config_.sample);
  }

  GptIndices indices(const TokenSource& source, SplitName split, const GptIndexParams& params) {
    const std::string prefix = source.path();
    if (prefix.empty()) return build_gpt_indices(source.sequence_lengths(), params);  // mock: never cached

    // The key holds every input the indices depend on, including the lengths themselves, so a
    // re-written dataset under the same name gets new indices instead of stale ones.
    const auto lengths = source.sequence_lengths().subspan(
        static_cast<size_t>(params.sequence_begin),
        static_cast<size_t>(params.sequence_end - params.sequence_begin));
    nlohmann::ordered_json key;
    key["class"] = "GPTDataset";
    key["dataset_path"] = prefix;
    key["num_sequences"] = source.sequence_lengths().size();
    key["sequence_lengths_hash"] = hash_hex(lengths.data(), lengths.size_bytes());
    key["index_split"] = split_name(split);
    key["sequence_begin"] = params.sequence_begin;
    key["sequence_end"] = params.sequence_end;
    key["num_samples"] = params.num_samples ? nlohmann::ordered_json(*params.num_samples) : nullptr;
    key["random_seed"] = params.seed;
    key["sequence_length"] = params.seq_length;
    key["drop_last_partial_sample"] = params.drop_last_partial_sample;
    const std::string description = key.dump(4);

    const std::string dir =
        config_.cache_path ? *config_.cache_path
                           : (std::filesystem::path(prefix) / "cache" / "GPTDataset_indices").string();
    const std::string path = index_cache_path(dir, description, split_name(split));
    if (auto cached = load_index_cache(path, description)) {
      log::debug("loaded {} indices of {} from {}", split_name(split), prefix, path);
      return std::move(*cached);
    }
    GptIndices built = build_gpt_indices(source.sequence_lengths(), params);
    if (config_.write_cache) {
      try {
        save_index_cache(path, description, built);
      } catch (const Error& error) {
        log::info_once("index cache " + dir + " is not writable (" + error.what() +
                       "); dataset indices are built in memory each run");
      }
    }
    return built;
  }

  const GptDataConfig& config_;
  std::map<std::string, std::shared_ptr<const TokenSource>> sources_;
  std::shared_ptr<const TokenSource> mock_source_;
};

}  // namespace

GptDatasets build_gpt_datasets(const GptDataConfig& config, const SplitSampleCounts& num_samples,
                               std::optional<SplitName> only) {
  check(config.seq_length > 0, "--seq-length must be a positive number of tokens");
  for (const auto& n : num_samples) {
    check(!n || *n >= 0, "sample counts (--train-samples and friends) must not be negative");
  }
  bool per_split = false;
  for (const auto& b : config.blend_per_split) per_split = per_split || b.has_value();
  check(!(per_split && config.blend),
        "--data-path cannot be combined with --train-data-path/--valid-data-path/--test-data-path");
  const bool mock = config.mock || (!config.blend && !per_split);

  Builder builder(config);
  GptDatasets out;
  const char* split_flags[3] = {"--train-data-path", "--valid-data-path", "--test-data-path"};
  // --mock-data wins over any data path (Megatron's builder checks it first).
  const SplitMatrix matrix = mock        ? parse_split_matrix("1,1,1")
                             : per_split ? SplitMatrix{}
                                         : parse_split_matrix(config.split);
  for (SplitName split : kAllSplits) {
    if (only && split != *only) continue;
    const size_t i = static_cast<size_t>(split);
    if (mock) {
      check(config.vocab_size > 0, "--mock-data needs the tokenizer's vocabulary size");
      if (matrix[i]) out.splits[i] = builder.mock_split(split, *matrix[i], num_samples[i]);
    } else if (config.blend) {
      if (matrix[i]) {
        out.splits[i] = builder.build_split(*config.blend, split, *matrix[i], num_samples[i],
                                            /*single_prefix_ignores_weights=*/false, "--data-path");
      }
    } else if (config.blend_per_split[i]) {
      out.splits[i] = builder.build_split(*config.blend_per_split[i], split, {0.0, 1.0},
                                          num_samples[i],
                                          /*single_prefix_ignores_weights=*/true, split_flags[i]);
    }
  }
  return out;
}

}  // namespace mcpp::data
