#pragma once
// Element types a checkpoint tensor can be stored in, and conversion between the floating ones.
// bf16 and fp16 are handled as raw uint16 payloads so the storage layer needs no device types.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mcpp::ckpt {

enum class DType { kFloat32, kBFloat16, kFloat16, kInt32, kInt64, kUInt8 };

size_t dtype_size(DType dtype);
// The name used in the checkpoint's JSON ("float32", "bfloat16", ...).
const char* dtype_name(DType dtype);
// Inverse of dtype_name; throws mcpp::Error naming `where` for an unknown name.
DType parse_dtype(std::string_view name, const std::string& where);
bool is_floating(DType dtype);

// Converts `count` elements from `src` (of `src_type`) to `dst` (of `dst_type`). Floating types
// convert among each other (narrowing rounds to nearest even; NaN stays NaN); integer types
// only copy to themselves. Throws mcpp::Error for any other pair.
void convert_elements(const void* src, DType src_type, void* dst, DType dst_type, size_t count);

// Scalar conversions, exposed for tests and callers that build bf16/fp16 payloads on the host.
float bf16_to_float(uint16_t bits);
uint16_t float_to_bf16(float value);
float fp16_to_float(uint16_t bits);
uint16_t float_to_fp16(float value);

}  // namespace mcpp::ckpt
