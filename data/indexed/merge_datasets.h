#pragma once
// Megatron's tools/merge_datasets.py: every dataset (<prefix>.bin + <prefix>.idx pair) of a
// directory, in sorted prefix order, concatenated into one dataset of the same dtype.
#include <string>
#include <vector>

namespace mcpp::data {

// Full prefixes (<dir>/<name>) of the .bin/.idx pairs in `dir`, sorted by name. Other files are
// ignored; a .bin without its .idx (or the reverse) or no pair at all is an error.
std::vector<std::string> dataset_prefixes_in(const std::string& dir);

// Concatenates the datasets into <output_prefix>.bin/.idx (written atomically); all must share
// one dtype. Returns the number of documents written.
size_t merge_datasets(const std::vector<std::string>& prefixes, const std::string& output_prefix);

}  // namespace mcpp::data
