#include "core/base/dtype.h"

#include "core/base/error.h"

namespace mcpp {

namespace {
constexpr DType kAllDTypes[] = {DType::F32,    DType::BF16, DType::F16, DType::F8E4M3,
                                DType::F8E5M2, DType::I32,  DType::I64, DType::U8};
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F8E4M3: return "f8e4m3";
    case DType::F8E5M2: return "f8e5m2";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (DType dtype : kAllDTypes) {
    if (name == dtype_name(dtype)) return dtype;
  }
  throw Error("unknown dtype '" + name + "' (expected f32, bf16, f16, f8e4m3, f8e5m2, i32, i64 or u8)");
}

}  // namespace mcpp
