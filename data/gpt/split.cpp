#include "data/gpt/split.h"

#include <cmath>
#include <regex>
#include <vector>

#include "core/base/error.h"

namespace mcpp::data {

const char* split_name(SplitName split) {
  switch (split) {
    case SplitName::train: return "train";
    case SplitName::valid: return "valid";
    case SplitName::test: return "test";
  }
  return "?";
}

SplitName parse_split_name(const std::string& text, const std::string& flag) {
  for (SplitName split : kAllSplits) {
    if (text == split_name(split)) return split;
  }
  throw Error(flag + ": '" + text + "' is not a split; use train, valid or test");
}

SplitMatrix parse_split_matrix(const std::string& split) {
  static const std::regex number("[.0-9]+");
  std::vector<double> weights;
  for (auto it = std::sregex_iterator(split.begin(), split.end(), number);
       it != std::sregex_iterator(); ++it) {
    const std::string token = it->str();
    char* end = nullptr;
    double value = std::strtod(token.c_str(), &end);
    check(end == token.c_str() + token.size(),
          "--split '" + split + "': '" + token + "' is not a number; write e.g. 969,30,1");
    weights.push_back(value);
  }
  check(!weights.empty(), "--split '" + split + "' holds no numbers; write e.g. 969,30,1");
  check(weights.size() <= 3,
        "--split '" + split + "' has more than 3 parts; write train,valid,test weights");
  weights.resize(3, 0.0);
  double total = 0;
  for (double w : weights) total += w;
  check(total > 0, "--split '" + split + "' weights sum to 0; give at least one positive weight");

  SplitMatrix matrix;
  double begin = 0;  // plain sequential additions, as Megatron accumulates its bookends
  for (size_t k = 0; k < 3; ++k) {
    double end = begin + weights[k] / total;
    if (end > begin) matrix[k] = std::make_pair(begin, end);
    begin = end;
  }
  return matrix;
}

std::pair<int64_t, int64_t> split_range(const std::pair<double, double>& fraction,
                                        int64_t num_sequences) {
  // Python's round() is round-half-to-even: nearbyint in the default rounding mode.
  const double n = static_cast<double>(num_sequences);
  return {static_cast<int64_t>(std::nearbyint(fraction.first * n)),
          static_cast<int64_t>(std::nearbyint(fraction.second * n))};
}

}  // namespace mcpp::data
