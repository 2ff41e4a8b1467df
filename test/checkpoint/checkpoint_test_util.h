#pragma once
// Shared pieces of the checkpoint tests: random tensors, reference slicing, error matching.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/region_copy.h"
#include "checkpoint/shard_index.h"
#include "core/base/error.h"

namespace mcpp::ckpt::test {

// A global tensor held in memory as raw bytes.
struct HostTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

inline HostTensor random_tensor(DType dtype, const Shape& shape, std::mt19937_64& rng) {
  HostTensor t{dtype, shape, std::vector<uint8_t>(size_t(element_count(shape)) * dtype_size(dtype))};
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < element_count(shape); ++i) {
    float value = normal(rng);
    if (dtype == DType::kFloat32) std::memcpy(&t.bytes[size_t(i) * 4], &value, 4);
    else if (dtype == DType::kBFloat16) {
      uint16_t bits = float_to_bf16(value);
      std::memcpy(&t.bytes[size_t(i) * 2], &bits, 2);
    } else if (dtype == DType::kFloat16) {
      uint16_t bits = float_to_fp16(value);
      std::memcpy(&t.bytes[size_t(i) * 2], &bits, 2);
    } else {
      for (size_t b = 0; b < dtype_size(dtype); ++b) t.bytes[size_t(i) * dtype_size(dtype) + b] = uint8_t(rng());
    }
  }
  return t;
}

// The region [offsets, offsets + shape) of `t`, converted to `dtype`.
inline std::vector<uint8_t> slice(const HostTensor& t, const Shape& offsets, const Shape& shape,
                                  DType dtype) {
  std::vector<uint8_t> out(size_t(element_count(shape)) * dtype_size(dtype));
  Box region = make_box(offsets, shape);
  copy_box(t.bytes.data(), make_box(Shape(t.shape.size(), 0), t.shape), t.dtype, out.data(), region,
           dtype, region);
  return out;
}

// Runs `body` and requires an mcpp::Error whose message contains every one of `parts`.
template <typename Body>
void require_error(Body&& body, const std::vector<std::string>& parts) {
  try {
    body();
  } catch (const mcpp::Error& e) {
    std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find('\n') == std::string::npos);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
    return;
  }
  FAIL("expected an mcpp::Error containing '" << parts.front() << "'");
}

}  // namespace mcpp::ckpt::test
