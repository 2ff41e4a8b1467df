#include "data/indexed/dtype.h"

namespace mcpp::data {

std::optional<DType> dtype_from_code(uint8_t code) {
  if (code < 1 || code > 8) return std::nullopt;
  return static_cast<DType>(code);
}

size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::uint8:
    case DType::int8: return 1;
    case DType::int16:
    case DType::uint16: return 2;
    case DType::int32:
    case DType::float32: return 4;
    case DType::int64:
    case DType::float64: return 8;
  }
  return 0;
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::uint8: return "uint8";
    case DType::int8: return "int8";
    case DType::int16: return "int16";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::float64: return "float64";
    case DType::float32: return "float32";
    case DType::uint16: return "uint16";
  }
  return "unknown";
}

bool is_integer(DType dtype) { return dtype != DType::float32 && dtype != DType::float64; }

DType dtype_for_vocab(int64_t vocab_size) {
  return vocab_size < 65500 ? DType::uint16 : DType::int32;
}

}  // namespace mcpp::data
