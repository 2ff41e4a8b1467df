#pragma once
// Megatron's BlendedDataset: position k reads sample dataset_sample_index[k] of component
// dataset_index[k] (blending_indices.h); items carry their component id.
#include <memory>
#include <vector>

#include "data/gpt/blending_indices.h"
#include "data/gpt/sample_dataset.h"

namespace mcpp::data {

class BlendedDataset : public SampleDataset {
 public:
  // Throws mcpp::Error when the blend asks a component for more samples than it has.
  BlendedDataset(std::vector<std::shared_ptr<const SampleDataset>> components,
                 BlendingIndices indices, const char* split);

  int64_t size() const override { return static_cast<int64_t>(indices_.dataset_index.size()); }
  Sample get(int64_t index) const override;
  int64_t seq_length() const override { return components_.front()->seq_length(); }

  const BlendingIndices& indices() const { return indices_; }
  const std::vector<std::shared_ptr<const SampleDataset>>& components() const { return components_; }

 private:
  std::vector<std::shared_ptr<const SampleDataset>> components_;
  BlendingIndices indices_;
};

}  // namespace mcpp::data
