#include "app/weight_hash.h"

#include "parallel/distributed_optimizer.h"

namespace mcpp::app {

uint64_t fnv1a64(const void* bytes, size_t size, uint64_t hash) {
  const auto* data = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

uint64_t parameter_hash(const std::vector<model::GPTModel*>& chunks) {
  uint64_t hash = fnv1a64(nullptr, 0);
  for (const model::GPTModel* chunk : chunks) {
    for (const model::ParamBufferGroup& group : chunk->params().groups()) {
      const Tensor host = parallel::gathered_params(group).to(Device::CPU);
      hash = fnv1a64(host.raw_data(), host.nbytes(), hash);
    }
  }
  return hash;
}

std::optional<std::pair<int, int>> differing_replicas(const std::vector<uint64_t>& hashes) {
  for (size_t rank = 1; rank < hashes.size(); ++rank) {
    if (hashes[rank] != hashes[0]) return std::make_pair(0, static_cast<int>(rank));
  }
  return std::nullopt;
}

}  // namespace mcpp::app
