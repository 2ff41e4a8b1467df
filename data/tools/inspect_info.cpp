#include "data/tools/inspect_info.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "data/indexed/indexed_dataset.h"
#include "data/tools/parse_flags.h"

namespace mcpp::data {

std::string dataset_info_json(const std::string& prefix) {
  const auto dataset = IndexedDataset::open(prefix);
  nlohmann::ordered_json info;
  info["sequences"] = dataset.num_sequences();
  info["documents"] = dataset.num_documents();
  info["tokens"] = dataset.num_tokens();
  info["dtype"] = dtype_name(dataset.dtype());
  info["bin_bytes"] = dataset.bin_bytes();
  info["idx_bytes"] = dataset.idx_bytes();
  return info.dump();
}

int inspect_info(int argc, char** argv) {
  CLI::App app{"Counts, dtype and file sizes of a .bin/.idx dataset", "inspect-data info"};
  std::string prefix;
  app.add_option("--data-path", prefix, "dataset prefix (without .bin/.idx)")->required();
  if (auto code = parse_flags(app, argc, argv)) return *code;
  std::printf("%s\n", dataset_info_json(prefix).c_str());
  return 0;
}

}  // namespace mcpp::data
