#pragma once
// Small indexed datasets written with the project's own builder for dataset tests.
#include <filesystem>
#include <string>
#include <vector>

#include "data/indexed/indexed_dataset_builder.h"
#include "test/common/test_support.h"

namespace mcpp::test {

// Writes <dir>/<name>.bin/.idx with one sequence (= document) per entry of `sequences`.
inline std::string write_indexed_dataset(const std::filesystem::path& dir, const std::string& name,
                                         const std::vector<std::vector<int32_t>>& sequences,
                                         data::DType dtype = data::DType::int32) {
  const std::string prefix = (dir / name).string();
  data::IndexedDatasetBuilder builder(prefix, dtype);
  for (const auto& tokens : sequences) {
    const int32_t length = static_cast<int32_t>(tokens.size());
    builder.add_document(tokens, std::span<const int32_t>(&length, 1));
  }
  builder.finalize();
  return prefix;
}

// Sequence s of length n holds 1000*s + t for t in [0, n): every token says where it came from.
inline std::vector<std::vector<int32_t>> labelled_sequences(const std::vector<int32_t>& lengths) {
  std::vector<std::vector<int32_t>> sequences;
  for (size_t s = 0; s < lengths.size(); ++s) {
    std::vector<int32_t> tokens;
    for (int32_t t = 0; t < lengths[s]; ++t) tokens.push_back(static_cast<int32_t>(1000 * s) + t);
    sequences.push_back(tokens);
  }
  return sequences;
}

}  // namespace mcpp::test
