#pragma once
// The sequence lengths of Megatron's mock dataset: numpy.random.default_rng(0).integers(
// low=1, high=4096, size=100000, dtype=int32), reproduced exactly (SeedSequence -> PCG64 ->
// Lemire's bounded 32-bit draws), so --mock-data runs see Megatron's very samples.
#include <cstdint>
#include <vector>

namespace mcpp::data {

inline constexpr int64_t kMockSequences = 100000;
inline constexpr int32_t kMockMaxLength = 4096;  // exclusive

// numpy.random.default_rng(seed).integers(low, high, size=count, dtype=int32), high exclusive.
std::vector<int32_t> numpy_default_rng_integers(uint32_t seed, int32_t low, int32_t high,
                                                int64_t count);

// First 64-bit outputs of numpy.random.PCG64(seed) (random_raw), for tests.
std::vector<uint64_t> numpy_pcg64_raw(uint32_t seed, int64_t count);

inline std::vector<int32_t> megatron_mock_sequence_lengths() {
  return numpy_default_rng_integers(0, 1, kMockMaxLength, kMockSequences);
}

}  // namespace mcpp::data
