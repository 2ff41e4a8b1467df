#pragma once
// `inspect-data info --data-path PREFIX`: prints one JSON object describing a dataset:
// {"sequences":S,"documents":D,"tokens":N,"dtype":"uint16","bin_bytes":B,"idx_bytes":I}
#include <string>

namespace mcpp::data {

// The JSON line for the dataset at `prefix` (validated by opening it).
std::string dataset_info_json(const std::string& prefix);

// The subcommand; argv[0] is "info".
int inspect_info(int argc, char** argv);

}  // namespace mcpp::data
