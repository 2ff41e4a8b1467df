#include "data/gpt/blending_indices.h"

#include <algorithm>
#include <limits>

#include "core/base/error.h"

namespace mcpp::data {

BlendingIndices build_blending_indices(std::span<const double> weights, int64_t size) {
  check(!weights.empty() && weights.size() < 32767, "a blend needs 1 to 32766 datasets");
  BlendingIndices out;
  out.dataset_index.resize(static_cast<size_t>(size));
  out.dataset_sample_index.resize(static_cast<size_t>(size));
  std::vector<int64_t> drawn(weights.size(), 0);
  for (int64_t k = 0; k < size; ++k) {
    const double x = std::max(static_cast<double>(k), 1.0);
    size_t best = 0;
    double best_error = weights[0] * x - static_cast<double>(drawn[0]);
    for (size_t i = 1; i < weights.size(); ++i) {
      const double error = weights[i] * x - static_cast<double>(drawn[i]);
      if (error > best_error) {
        best_error = error;
        best = i;
      }
    }
    out.dataset_index[k] = static_cast<int16_t>(best);
    out.dataset_sample_index[k] = drawn[best]++;
  }
  return out;
}

BlendingIndices build_exhaustive_blending_indices(std::span<const int64_t> sizes) {
  check(!sizes.empty() && sizes.size() < 32767, "a blend needs 1 to 32766 datasets");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::vector<double> weights;
  for (int64_t s : sizes) weights.push_back(static_cast<double>(s) / static_cast<double>(total));
  std::vector<int64_t> drawn(sizes.size(), 0);
  std::vector<bool> spent(sizes.size(), false);
  for (size_t i = 0; i < sizes.size(); ++i) spent[i] = sizes[i] == 0;
  BlendingIndices out;
  out.dataset_index.reserve(static_cast<size_t>(total));
  out.dataset_sample_index.reserve(static_cast<size_t>(total));
  for (int64_t k = 0; k < total; ++k) {
    const double x = std::max(static_cast<double>(k), 1.0);
    int64_t best = -1;
    double best_error = std::numeric_limits<double>::lowest();
    for (size_t i = 0; i < sizes.size(); ++i) {  // only components with samples left
      if (spent[i]) continue;
      const double error = weights[i] * x - static_cast<double>(drawn[i]);
      if (error > best_error) {
        best_error = error;
        best = static_cast<int64_t>(i);
      }
    }
    out.dataset_index.push_back(static_cast<int16_t>(best));
    out.dataset_sample_index.push_back(drawn[best]++);
    if (drawn[best] == sizes[best]) spent[best] = true;
  }
  return out;
}

}  // namespace mcpp::data
