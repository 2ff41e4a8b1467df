#include "data/gpt/blended_dataset.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::data {

BlendedDataset::BlendedDataset(std::vector<std::shared_ptr<const SampleDataset>> components,
                               BlendingIndices indices, const char* split)
    : components_(std::move(components)), indices_(std::move(indices)) {
  check(!components_.empty(), "internal: a blend needs at least one dataset");
  std::vector<int64_t> drawn(components_.size(), 0);
  for (int16_t id : indices_.dataset_index) ++drawn[id];
  for (size_t i = 0; i < components_.size(); ++i) {
    check(drawn[i] <= components_[i]->size(),
          std::string("the ") + split + " blend asks dataset " + std::to_string(i) + " for " +
              std::to_string(drawn[i]) + " samples but it has only " +
              std::to_string(components_[i]->size()) +
              "; raise --mid-level-dataset-surplus (e.g. ten-fold)");
  }
}

Sample BlendedDataset::get(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw Error("sample " + std::to_string(index) + " is outside the blended dataset of " +
                std::to_string(size()) + " samples");
  }
  const int16_t id = indices_.dataset_index[index];
  Sample sample = components_[id]->get(indices_.dataset_sample_index[index]);
  sample.dataset_id = id;
  return sample;
}

}  // namespace mcpp::data
