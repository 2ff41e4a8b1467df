#pragma once
// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11), the same function on host and device.
//
// Every random value in training is a pure function of (seed, stream, element index):
//   key     = seed (64 bits, split in two 32-bit words)
//   counter = (block lo, block hi, stream lo, stream hi), block = element index / 4
// and element index i takes lane i % 4 of its block. So a parameter's initial values depend only
// on (seed, parameter stream id, global element index): a tensor-parallel shard draws exactly its
// slice of the full tensor's values, and a dropout mask is the same on every device and layout.
// Normals pair lanes (0,1) and (2,3) of a block through Box–Muller, keeping the same property.
#include <math.h>
#include <cstdint>

#include "core/base/host_device.h"

namespace mcpp {

struct Philox4 {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

MCPP_HOST_DEVICE inline void mul_hi_lo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t product = uint64_t(a) * uint64_t(b);
  hi = uint32_t(product >> 32);
  lo = uint32_t(product);
}
}  // namespace philox_detail

// The raw generator: 10 rounds on a 128-bit counter with a 64-bit key.
MCPP_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 counter, uint32_t key0, uint32_t key1) {
  using namespace philox_detail;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(kMul0, counter.v[0], hi0, lo0);
    mul_hi_lo(kMul1, counter.v[2], hi1, lo1);
    counter = Philox4{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// The 4 random words of `block` in `stream` under `seed`.
MCPP_HOST_DEVICE inline Philox4 philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
  Philox4 counter{{uint32_t(block), uint32_t(block >> 32), uint32_t(stream), uint32_t(stream >> 32)}};
  return philox4x32_10(counter, uint32_t(seed), uint32_t(seed >> 32));
}

// Uniform in [0, 1): the top 24 bits, so every value is exact in fp32.
MCPP_HOST_DEVICE inline float philox_bits_to_uniform(uint32_t bits) {
  return float(bits >> 8) * 5.9604644775390625e-8f;  // 2^-24
}

// Two standard normals from two random words (Box–Muller). The first word gives a uniform in
// (0, 1] so the logarithm is finite. The transcendental functions run in fp64 and the results
// are rounded to fp32: host libm and the CUDA device library then agree on practically every
// value (their fp64 errors are far below an fp32 ulp), so initial weights match across devices.
MCPP_HOST_DEVICE inline void philox_bits_to_normal2(uint32_t bits_a, uint32_t bits_b, float& z0,
                                                    float& z1) {
  double u_radius = double((bits_a >> 8) + 1u) * 5.9604644775390625e-8;  // 2^-24
  double u_angle = double(bits_b >> 8) * 5.9604644775390625e-8;
  double radius = sqrt(-2.0 * log(u_radius));
  double angle = 6.283185307179586477 * u_angle;
  z0 = float(radius * cos(angle));
  z1 = float(radius * sin(angle));
}

// Uniforms of the 4 elements [4*block, 4*block + 4).
MCPP_HOST_DEVICE inline void philox_uniform4(uint64_t seed, uint64_t stream, uint64_t block,
                                             float out[4]) {
  Philox4 bits = philox_block(seed, stream, block);
  for (int lane = 0; lane < 4; ++lane) out[lane] = philox_bits_to_uniform(bits.v[lane]);
}

// Standard normals of the 4 elements [4*block, 4*block + 4).
MCPP_HOST_DEVICE inline void philox_normal4(uint64_t seed, uint64_t stream, uint64_t block,
                                            float out[4]) {
  Philox4 bits = philox_block(seed, stream, block);
  philox_bits_to_normal2(bits.v[0], bits.v[1], out[0], out[1]);
  philox_bits_to_normal2(bits.v[2], bits.v[3], out[2], out[3]);
}

// Uniform in [0, 1) of one element (computes its whole block: prefer the *4 forms in loops).
MCPP_HOST_DEVICE inline float philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4 bits = philox_block(seed, stream, index / 4);
  return philox_bits_to_uniform(bits.v[index % 4]);
}

// Standard normal of one element.
MCPP_HOST_DEVICE inline float philox_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  float values[4];
  philox_normal4(seed, stream, index / 4, values);
  return values[index % 4];
}

// Where a consumer draws from: (seed, stream), with `offset` added to every element index
// (lets a shard or a later use of the same stream continue without overlap).
struct PhiloxStream {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t offset = 0;
};

}  // namespace mcpp
