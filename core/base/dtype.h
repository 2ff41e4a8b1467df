#pragma once
// Element types of tensors, their sizes and names, and the 16-bit float <-> fp32 conversions
// (round-to-nearest-even, NaN kept quiet), usable from host and device code.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/base/host_device.h"

namespace mcpp {

enum class DType : uint8_t { F32, BF16, F16, F8E4M3, F8E5M2, I32, I64, U8 };

constexpr size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F8E4M3: return 1;
    case DType::F8E5M2: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

// Lower-case names as they appear in checkpoint metadata and messages ("f32", "bf16", ...).
const char* dtype_name(DType dtype);
// Inverse of dtype_name; throws mcpp::Error naming the unknown string.
DType dtype_from_name(const std::string& name);

constexpr bool is_floating(DType dtype) {
  return dtype != DType::I32 && dtype != DType::I64 && dtype != DType::U8;
}

// 16-bit storage types. They are plain bit containers: arithmetic happens in fp32.
struct bf16 {
  uint16_t bits;
};
struct f16 {
  uint16_t bits;
};

MCPP_HOST_DEVICE inline uint32_t float_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

MCPP_HOST_DEVICE inline float bits_float(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

MCPP_HOST_DEVICE inline bf16 float_to_bf16(float value) {
  uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return bf16{uint16_t((bits >> 16) | 0x40)};  // NaN
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);  // ties to even
  return bf16{uint16_t((bits + rounding) >> 16)};
}

MCPP_HOST_DEVICE inline float bf16_to_float(bf16 value) {
  return bits_float(uint32_t(value.bits) << 16);
}

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
MCPP_HOST_DEVICE inline f16 float_to_f16(float value) {
  uint32_t bits = float_bits(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return f16{uint16_t(sign | 0x7e00u)};  // NaN
  if (magnitude >= 0x477ff000u) return f16{uint16_t(sign | 0x7c00u)};  // overflow -> inf
  if (magnitude < 0x38800000u) {
    // Subnormal half (or zero): value = m * 2^-24 with m rounded to nearest even.
    if (magnitude < 0x33000000u) return f16{sign};  // below half of the smallest subnormal
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent;  // value / 2^-24 = mantissa * 2^(exponent - 126)
    uint32_t half = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half & 1u))) ++half;
    return f16{uint16_t(sign | half)};
  }
  // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
  uint32_t rebased = magnitude - (112u << 23);
  uint32_t rounding = 0xfffu + ((rebased >> 13) & 1u);
  return f16{uint16_t(sign | ((rebased + rounding) >> 13))};
}

MCPP_HOST_DEVICE inline float f16_to_float(f16 value) {
  uint32_t sign = uint32_t(value.bits & 0x8000u) << 16;
  uint32_t exponent = (value.bits >> 10) & 0x1fu;
  uint32_t mantissa = value.bits & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));  // inf/NaN
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in fp32.
    float magnitude = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Maps a C++ element type to its DType (used by Tensor::data<T>() to check access).
template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

}  // namespace mcpp
