#include "checkpoint/dtype.h"

#include <cmath>
#include <cstring>

#include "core/base/error.h"

namespace mcpp::ckpt {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kBFloat16: return 2;
    case DType::kFloat16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
  }
  return "?";
}

DType parse_dtype(std::string_view name, const std::string& where) {
  for (DType d : {DType::kFloat32, DType::kBFloat16, DType::kFloat16, DType::kInt32, DType::kInt64,
                  DType::kUInt8}) {
    if (name == dtype_name(d)) return d;
  }
  throw Error(where + ": unknown dtype '" + std::string(name) +
              "' (the checkpoint may come from a newer megatron-cpp; upgrade to read it)");
}

bool is_floating(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kBFloat16 || dtype == DType::kFloat16;
}

static uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

static float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

float bf16_to_float(uint16_t bits) { return bits_float(uint32_t(bits) << 16); }

uint16_t float_to_bf16(float value) {
  uint32_t bits = float_bits(value);
  if (std::isnan(value)) return uint16_t((bits >> 16) | 0x40);  // keep it a (quiet) NaN
  uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);              // round to nearest even
  return uint16_t((bits + rounding) >> 16);
}

float fp16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  if (exponent == 0x1F) return bits_float(sign | 0x7F800000 | (mantissa << 13));  // inf / NaN
  if (exponent == 0) {
    // Zero or subnormal: value = mantissa * 2^-24.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_fp16(float value) {
  uint32_t bits = float_bits(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t abs_bits = bits & 0x7FFFFFFF;
  if (abs_bits > 0x7F800000) return sign | 0x7E00;   // NaN
  if (abs_bits >= 0x477FF000) return sign | 0x7C00;  // rounds to or beyond infinity
  if (abs_bits < 0x38800000) {
    // Subnormal or zero in fp16: scale so the integer part is the fp16 mantissa, then round
    // to nearest even (nearbyint uses the default rounding mode, which is to-nearest-even).
    float magnitude = bits_float(abs_bits);
    return sign | uint16_t(std::nearbyint(std::ldexp(magnitude, 24)));
  }
  uint32_t rounding = 0xFFF + ((abs_bits >> 13) & 1);
  return sign | uint16_t((abs_bits - (112u << 23) + rounding) >> 13);
}

template <typename ToFloat>
static void widen(const uint16_t* src, float* dst, size_t n, ToFloat to_float) {
  for (size_t i = 0; i < n; ++i) dst[i] = to_float(src[i]);
}

template <typename FromFloat>
static void narrow(const float* src, uint16_t* dst, size_t n, FromFloat from_float) {
  for (size_t i = 0; i < n; ++i) dst[i] = from_float(src[i]);
}

void convert_elements(const void* src, DType src_type, void* dst, DType dst_type, size_t count) {
  if (src_type == dst_type) {
    std::memcpy(dst, src, count * dtype_size(src_type));
    return;
  }
  check(is_floating(src_type) && is_floating(dst_type),
        std::string("cannot convert a checkpoint tensor stored as ") + dtype_name(src_type) +
            " to " + dtype_name(dst_type) + " (integer tensors are read in their stored type)");
  // Go through fp32: every bf16 and fp16 value is exactly representable in it.
  if (src_type == DType::kFloat32) {
    auto* out = static_cast<uint16_t*>(dst);
    if (dst_type == DType::kBFloat16) narrow(static_cast<const float*>(src), out, count, float_to_bf16);
    else narrow(static_cast<const float*>(src), out, count, float_to_fp16);
    return;
  }
  auto* in = static_cast<const uint16_t*>(src);
  auto to_float = src_type == DType::kBFloat16 ? bf16_to_float : fp16_to_float;
  if (dst_type == DType::kFloat32) {
    widen(in, static_cast<float*>(dst), count, to_float);
    return;
  }
  auto from_float = dst_type == DType::kBFloat16 ? float_to_bf16 : float_to_fp16;
  auto* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < count; ++i) out[i] = from_float(to_float(in[i]));
}

}  // namespace mcpp::ckpt
