#pragma once
// Megatron's --split: "969,30,1" -> normalised weights -> per-split [begin, end) fractions ->
// per-dataset sequence ranges (Python round-half-to-even on float64 products).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace mcpp::data {

enum class SplitName { train = 0, valid = 1, test = 2 };
inline constexpr std::array<SplitName, 3> kAllSplits = {SplitName::train, SplitName::valid,
                                                        SplitName::test};
const char* split_name(SplitName split);  // "train" / "valid" / "test"
SplitName parse_split_name(const std::string& text, const std::string& flag);

// Half-open interval of the unit line covered by one split, absent when empty.
using SplitFraction = std::optional<std::pair<double, double>>;
using SplitMatrix = std::array<SplitFraction, 3>;

// Parses the --split string exactly as Megatron does: every run of [.0-9] is a number, missing
// entries are 0, the weights are divided by their sum and accumulated into bookends.
// Throws mcpp::Error naming --split on bad input (no numbers, more than 3, all zero).
SplitMatrix parse_split_matrix(const std::string& split);

// The sequence ids [begin, end) of `fraction` in a dataset of `num_sequences` sequences.
std::pair<int64_t, int64_t> split_range(const std::pair<double, double>& fraction,
                                        int64_t num_sequences);

}  // namespace mcpp::data
