#pragma once
// numpy.random.RandomState(seed).shuffle reproduced bit for bit. RandomState seeded with an
// integer is the plain MT19937 generator seeded like std::mt19937; shuffle is Fisher-Yates from
// the back, each bound drawn by masked rejection on 32-bit outputs (numpy's legacy bounded draw).
// Megatron builds all its document and sample shuffles with this generator, so our indices match
// its cached .npy files exactly.
#include <cstdint>
#include <random>
#include <span>
#include <utility>

#include "core/base/error.h"

namespace mcpp::data {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed) : engine_(seed) {}

  // Uniform integer in [0, high] (numpy's masked rejection sampling).
  uint64_t bounded(uint64_t high) {
    if (high == 0) return 0;
    uint64_t mask = high;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    // numpy draws 64-bit values (two outputs) only for bounds past 32 bits; arrays that large
    // (4 billion documents or samples) are out of reach of this code path's verification.
    if (high > 0xffffffffULL) throw Error("shuffle of more than 2^32 elements is not supported");
    uint64_t value;
    do {
      value = static_cast<uint64_t>(engine_()) & mask;
    } while (value > high);
    return value;
  }

  // In-place shuffle identical to RandomState.shuffle on a 1-D array.
  template <typename T>
  void shuffle(std::span<T> values) {
    for (size_t i = values.size(); i-- > 1;) {
      size_t j = static_cast<size_t>(bounded(i));
      std::swap(values[i], values[j]);
    }
  }

 private:
  std::mt19937 engine_;
};

}  // namespace mcpp::data
