#pragma once
// Megatron's BlendedMegatronDatasetBuilder for GPT: one dataset per split (train, valid, test),
// absent when the split is empty; a BlendedDataset when several prefixes feed a split.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "data/gpt/gpt_data_config.h"
#include "data/gpt/sample_dataset.h"
#include "data/gpt/split.h"

namespace mcpp::data {

struct GptDatasets {
  std::array<std::shared_ptr<const SampleDataset>, 3> splits;  // nullptr = absent

  const std::shared_ptr<const SampleDataset>& operator[](SplitName s) const {
    return splits[static_cast<size_t>(s)];
  }
};

// Requested samples per split (train, valid, test); absent = exactly one epoch.
using SplitSampleCounts = std::array<std::optional<int64_t>, 3>;

// Builds (or loads from the index cache) every split, or only `only` when given (splits are
// independent, so building one alone gives the same dataset). Throws mcpp::Error with a one-line
// message for bad configurations and unreadable files.
GptDatasets build_gpt_datasets(const GptDataConfig& config, const SplitSampleCounts& num_samples,
                               std::optional<SplitName> only = std::nullopt);

}  // namespace mcpp::data
