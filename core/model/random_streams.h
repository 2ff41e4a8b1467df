#pragma once
// Philox stream ids of the model. Every random number is philox(seed, stream, element index), so
// these ids are all that distinguishes one use of randomness from another:
//   - parameter init: a hash of the parameter's state-dict key (top bit set), so values depend on
//     the key and the global element index only;
//   - dropout: (step, global layer, site) packed into the stream id, where `step` counts
//     micro-batches over the whole run (the training loop advances DropoutState::step), so a
//     layer re-run during activation recompute draws exactly the same mask.
#include <cstdint>
#include <string>

#include "core/base/philox.h"

namespace mcpp::model {

// FNV-1a 64 of the key, top bit set (dropout streams keep it clear).
inline uint64_t parameter_stream(const std::string& key) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char ch : key) {
    hash ^= ch;
    hash *= 0x100000001b3ull;
  }
  return hash | (1ull << 63);
}

enum class DropoutSite : uint64_t { embedding = 0, attention_probs = 1, post_attention = 2, post_mlp = 3 };

// Which micro-batch of the run is being computed; the training loop sets `step` (e.g.
// iteration * num_microbatches + microbatch) before each forward.
struct DropoutState {
  uint64_t seed = 1234;
  uint64_t step = 0;
  bool training = true;  // false: no dropout (evaluation)

  // Stream of one dropout site: 38 bits of step, 20 bits of layer (+1; 0 = embedding), 4 of site.
  PhiloxStream stream(int global_layer, DropoutSite site) const {
    const uint64_t layer = static_cast<uint64_t>(global_layer + 1) & 0xfffffull;
    const uint64_t id = ((step & 0x3fffffffffull) << 24) | (layer << 4) | static_cast<uint64_t>(site);
    return PhiloxStream{seed, id, 0};
  }
};

}  // namespace mcpp::model
