#pragma once
// Which component dataset, and which of its samples, each position of a BlendedDataset reads.
// Deterministic greedy (no RNG), identical to Megatron's helpers.cpp.
#include <cstdint>
#include <span>
#include <vector>

namespace mcpp::data {

struct BlendingIndices {
  std::vector<int16_t> dataset_index;         // component of position k
  std::vector<int64_t> dataset_sample_index;  // sample of that component
};

// `size` positions drawn in proportion to `weights` (normalised): position k goes to the component
// with the largest weight*max(k,1) - drawn_so_far (ties: lowest id).
BlendingIndices build_blending_indices(std::span<const double> weights, int64_t size);

// Without a size: every component i contributes exactly sizes[i] samples, interleaved in
// proportion to the sizes.
BlendingIndices build_exhaustive_blending_indices(std::span<const int64_t> sizes);

}  // namespace mcpp::data
