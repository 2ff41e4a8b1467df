#include "data/indexed/merge_datasets.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/base/error.h"
#include "data/indexed/indexed_dataset.h"
#include "data/indexed/indexed_dataset_builder.h"

namespace fs = std::filesystem;

namespace mcpp::data {

std::vector<std::string> dataset_prefixes_in(const std::string& dir) {
  check(fs::is_directory(dir), "--input " + dir + ": not a directory or does not exist");
  std::set<std::string> names;  // sorted by bytes, which is Python's sorted() order for UTF-8
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& path = entry.path();
    const std::string ext = path.extension().string();
    if (ext != ".bin" && ext != ".idx") continue;
    const std::string other = ext == ".bin" ? ".idx" : ".bin";
    fs::path pair = path;
    pair.replace_extension(other);
    check(fs::is_regular_file(pair), path.string() + ": its " + other +
                                         " file is missing; every dataset needs both files");
    names.insert(path.stem().string());
  }
  check(!names.empty(), "--input " + dir + ": no .bin/.idx datasets in this directory");
  std::vector<std::string> prefixes;
  for (const std::string& name : names) prefixes.push_back((fs::path(dir) / name).string());
  return prefixes;
}

size_t merge_datasets(const std::vector<std::string>& prefixes, const std::string& output_prefix) {
  check(!prefixes.empty(), "nothing to merge");
  std::unique_ptr<IndexedDatasetBuilder> builder;
  for (const std::string& prefix : prefixes) {
    // One dataset mapped at a time: memory stays at the merged index arrays.
    auto dataset = IndexedDataset::open(prefix);
    if (!builder) builder = std::make_unique<IndexedDatasetBuilder>(output_prefix, dataset.dtype());
    builder->add_index(dataset);
  }
  const size_t documents = builder->num_documents();
  builder->finalize();
  return documents;
}

}  // namespace mcpp::data
