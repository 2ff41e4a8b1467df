#pragma once
// Reading the generated index fixtures (test/fixtures/gptdata/*.json.gz) and comparing arrays:
// short arrays are stored in full, long ones as length + FNV-1a digest + first values.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/common/test_support.h"

namespace mcpp::test {

inline nlohmann::json load_gz_json(const std::string& relative) {
  const std::string path = (source_dir() / relative).string();
  gzFile file = gzopen(path.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::string text;
  char buffer[1 << 16];
  int got;
  while ((got = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, got);
  gzclose(file);
  return nlohmann::json::parse(text);
}

inline std::string fnv1a64_hex(const std::vector<int64_t>& values) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (int64_t v : values) {
    uint64_t u = static_cast<uint64_t>(v);
    for (int b = 0; b < 8; ++b) {
      h ^= (u >> (8 * b)) & 0xff;
      h *= 0x100000001B3ULL;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

template <typename T>
void require_array(const nlohmann::json& expected, const std::vector<T>& actual_in) {
  std::vector<int64_t> actual(actual_in.begin(), actual_in.end());
  if (expected.contains("values")) {
    REQUIRE(actual == expected["values"].get<std::vector<int64_t>>());
    return;
  }
  REQUIRE(actual.size() == expected["length"].get<size_t>());
  auto head = expected["head"].get<std::vector<int64_t>>();
  REQUIRE(std::vector<int64_t>(actual.begin(), actual.begin() + head.size()) == head);
  REQUIRE(fnv1a64_hex(actual) == expected["fnv1a64"].get<std::string>());
}

}  // namespace mcpp::test
