#pragma once
// --check-weight-hash-across-dp-replicas-interval (Megatron's check_param_hashes_across_dp_replicas):
// every data-parallel replica must hold bit-identical parameters after a step. Each rank hashes
// the parameters its forward uses (the gathered compute copy with mixed precision), the hashes are
// all-gathered over the data-parallel group, and any difference stops training on every rank.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/model/gpt_model.h"

namespace mcpp::app {

// FNV-1a (64-bit) over `bytes`, continuing from `hash`.
uint64_t fnv1a64(const void* bytes, size_t size, uint64_t hash = 14695981039346656037ull);

// The hash of the parameters the forward reads, over every chunk and buffer in order.
uint64_t parameter_hash(const std::vector<model::GPTModel*>& chunks);

// The first pair of data-parallel ranks (0 and the first that differs) whose hashes differ.
std::optional<std::pair<int, int>> differing_replicas(const std::vector<uint64_t>& hashes);

}  // namespace mcpp::app
