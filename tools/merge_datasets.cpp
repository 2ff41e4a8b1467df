// merge-datasets: Megatron's tools/merge_datasets.py (every dataset of a directory, in sorted
// name order, into one).
#include <cstdio>
#include <filesystem>

#include "core/base/error.h"
#include "core/base/main_guard.h"
#include "data/indexed/merge_datasets.h"
#include "data/tools/parse_flags.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Merge every .bin/.idx dataset of a directory into one (sorted name order)",
               "merge-datasets"};
  std::string input, output_prefix;
  bool multimodal = false;
  app.add_option("--input", input, "directory holding the datasets to merge")->required();
  app.add_option("--output-prefix", output_prefix, "writes <prefix>.bin and <prefix>.idx")
      ->required();
  app.add_flag("--multimodal", multimodal, "not supported");
  if (auto code = mcpp::data::parse_flags(app, argc, argv)) return *code;
  mcpp::check(!multimodal, "--multimodal: multimodal datasets are not supported");
  const auto parent = std::filesystem::path(output_prefix).parent_path();
  mcpp::check(parent.empty() || std::filesystem::is_directory(parent),
              "--output-prefix " + output_prefix + ": directory " + parent.string() +
                  " does not exist");

  const auto prefixes = mcpp::data::dataset_prefixes_in(input);
  const size_t documents = mcpp::data::merge_datasets(prefixes, output_prefix);
  std::fprintf(stderr, "Merged %zu datasets (%zu documents) into %s.bin/.idx\n", prefixes.size(),
               documents, output_prefix.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mcpp::run_main([&] { return run(argc, argv); });
}
