#pragma once
// Megatron's --data-path syntax: either a list of prefixes, or (weight, prefix) pairs.
#include <optional>
#include <string>
#include <vector>

namespace mcpp::data {

struct Blend {
  std::vector<std::string> prefixes;
  // Normalised to sum 1 (float64) when given; absent means "weight by dataset length".
  std::optional<std::vector<double>> weights;
};

// Parses the tokens that followed `flag` (e.g. "--data-path"): an odd count is all prefixes; an
// even count is (weight, prefix) pairs when every weight position parses as a number and all
// prefixes when none does. Throws mcpp::Error naming `flag` otherwise.
Blend parse_blend(const std::vector<std::string>& tokens, const std::string& flag);

// Megatron's normalize(): w / sum(w) in float64.
std::vector<double> normalize_weights(const std::vector<double>& weights);

}  // namespace mcpp::data
