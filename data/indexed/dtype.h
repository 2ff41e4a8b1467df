#pragma once
// Token dtypes of Megatron's MMIDIDX datasets: the one-byte code stored in the .idx header
// (Megatron's DType enum, codes 1..8) and how wide each element of the .bin file is.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mcpp::data {

enum class DType : uint8_t {
  uint8 = 1,
  int8 = 2,
  int16 = 3,
  int32 = 4,
  int64 = 5,
  float64 = 6,
  float32 = 7,
  uint16 = 8,
};

// The DType for a header code, or nullopt for a code Megatron does not define.
std::optional<DType> dtype_from_code(uint8_t code);

// Bytes per element.
size_t itemsize(DType dtype);

// numpy's name of the type ("uint16", "int32", ...).
std::string dtype_name(DType dtype);

bool is_integer(DType dtype);

// Megatron's DType.optimal_dtype: uint16 when every id fits with room to spare
// (vocab_size < 65500), int32 otherwise.
DType dtype_for_vocab(int64_t vocab_size);

}  // namespace mcpp::data
