#pragma once
// `inspect-data samples`: megatron-train's data flags in, one line per sample out (the L+1 ids
// of Megatron's item as a JSON array, or with --decode its text as a JSON string).
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "data/gpt/builder.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

struct InspectSamplesRequest {
  GptDataConfig data;          // eod/pad/vocab filled later from the tokenizer
  TokenizerOptions tokenizer;
  SplitSampleCounts num_samples;
  SplitName split = SplitName::train;
  int64_t begin = 0;  // --range begin:end, half-open
  int64_t end = 0;
  bool decode = false;
};

// Parses the command line (argv[0] is the sub-command's name). Throws mcpp::Error naming the
// flag on bad input; with --help prints the usage to `help_out` and returns nullopt.
std::optional<InspectSamplesRequest> parse_inspect_samples_args(int argc, char** argv,
                                                                std::ostream& help_out);

// Builds the requested split and prints samples [begin, end) to `out`.
void print_samples(InspectSamplesRequest request, const Tokenizer& tokenizer, std::ostream& out);

}  // namespace mcpp::data
