#include "data/gpt/mock_lengths.h"

#include <array>

#include "core/base/error.h"

namespace mcpp::data {
namespace {

using u128 = unsigned __int128;

// numpy's SeedSequence for a single 32-bit entropy word, pool of 4 words.
std::array<uint32_t, 8> seed_sequence_state(uint32_t entropy) {
  constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875;
  constexpr uint32_t kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
  constexpr uint32_t kMixL = 0xca01f9dd, kMixR = 0x4973f715;
  uint32_t hash_const = kInitA;
  auto hashmix = [&](uint32_t value) {
    value ^= hash_const;
    hash_const *= kMultA;
    value *= hash_const;
    value ^= value >> 16;
    return value;
  };
  auto mix = [](uint32_t x, uint32_t y) {
    uint32_t result = kMixL * x - kMixR * y;
    return result ^ (result >> 16);
  };
  std::array<uint32_t, 4> pool{};
  for (size_t i = 0; i < pool.size(); ++i) pool[i] = hashmix(i == 0 ? entropy : 0);
  for (size_t src = 0; src < pool.size(); ++src) {
    for (size_t dst = 0; dst < pool.size(); ++dst) {
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
    }
  }
  std::array<uint32_t, 8> state{};
  uint32_t out_const = kInitB;
  for (size_t i = 0; i < state.size(); ++i) {
    uint32_t value = pool[i % pool.size()];
    value ^= out_const;
    out_const *= kMultB;
    value *= out_const;
    value ^= value >> 16;
    state[i] = value;
  }
  return state;
}

// PCG64 (XSL-RR 128/64) seeded the way numpy seeds it from a SeedSequence.
class Pcg64 {
 public:
  explicit Pcg64(uint32_t seed) {
    auto words = seed_sequence_state(seed);
    auto u64 = [&](size_t i) { return uint64_t{words[2 * i]} | (uint64_t{words[2 * i + 1]} << 32); };
    const u128 initstate = (u128{u64(0)} << 64) | u64(1);
    const u128 initseq = (u128{u64(2)} << 64) | u64(3);
    state_ = 0;
    inc_ = (initseq << 1) | 1;
    step();
    state_ += initstate;
    step();
  }
  uint64_t next64() {
    step();
    const uint64_t high = static_cast<uint64_t>(state_ >> 64);
    const uint64_t low = static_cast<uint64_t>(state_);
    const unsigned rot = static_cast<unsigned>(state_ >> 122);
    const uint64_t x = high ^ low;
    return (x >> rot) | (x << ((64 - rot) & 63));
  }
  // numpy hands out the low half of a 64-bit draw first, then keeps the high half.
  uint32_t next32() {
    if (has_half_) {
      has_half_ = false;
      return half_;
    }
    const uint64_t value = next64();
    has_half_ = true;
    half_ = static_cast<uint32_t>(value >> 32);
    return static_cast<uint32_t>(value);
  }

 private:
  void step() {
    static const u128 kMultiplier =
        (u128{0x2360ED051FC65DA4ULL} << 64) | u128{0x4385DF649FCCF645ULL};
    state_ = state_ * kMultiplier + inc_;
  }
  u128 state_;
  u128 inc_;
  bool has_half_ = false;
  uint32_t half_ = 0;
};

}  // namespace

std::vector<uint64_t> numpy_pcg64_raw(uint32_t seed, int64_t count) {
  Pcg64 rng(seed);
  std::vector<uint64_t> out(static_cast<size_t>(count));
  for (auto& v : out) v = rng.next64();
  return out;
}

std::vector<int32_t> numpy_default_rng_integers(uint32_t seed, int32_t low, int32_t high,
                                                int64_t count) {
  check(high > low, "internal: empty integer range");
  Pcg64 rng(seed);
  const uint32_t range = static_cast<uint32_t>(high - 1 - low);  // closed range width
  const uint64_t range_excl = uint64_t{range} + 1;
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (auto& v : out) {
    // Lemire's multiply-and-reject, as numpy's bounded uint32 draw.
    uint64_t m = uint64_t{rng.next32()} * range_excl;
    uint32_t leftover = static_cast<uint32_t>(m);
    if (leftover < range_excl) {
      const uint32_t threshold = static_cast<uint32_t>((uint64_t{0xFFFFFFFFu} - range) % range_excl);
      while (leftover < threshold) {
        m = uint64_t{rng.next32()} * range_excl;
        leftover = static_cast<uint32_t>(m);
      }
    }
    v = low + static_cast<int32_t>(m >> 32);
  }
  return out;
}

}  // namespace mcpp::data
