#pragma once
// Support for the preprocess tests: writing inputs, reading a dataset back as documents.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/indexed/indexed_dataset.h"
#include "test/common/test_support.h"

namespace mcpp::test {

// documents -> sequences -> token ids
using Documents = std::vector<std::vector<std::vector<int32_t>>>;

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline Documents read_documents(const std::string& prefix) {
  auto ds = data::IndexedDataset::open(prefix);
  Documents docs;
  auto bounds = ds.document_indices();
  auto lengths = ds.sequence_lengths();
  for (size_t k = 0; k + 1 < bounds.size(); ++k) {
    auto& doc = docs.emplace_back();
    for (int64_t s = bounds[k]; s < bounds[k + 1]; ++s) {
      auto& seq = doc.emplace_back(static_cast<size_t>(lengths[s]));
      ds.read(static_cast<size_t>(s), 0, seq.size(), seq.data());
    }
  }
  return docs;
}

// Files in `dir`, sorted by name.
inline std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace mcpp::test
