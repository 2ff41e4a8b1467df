#pragma once
// JSONL -> Megatron .bin/.idx (one dataset per JSON key), byte-identical to Megatron's
// tools/preprocess_data.py, as a streaming pipeline:
//   reader thread: lines -> batches (~1 MB) ──bounded──> worker threads: parse + tokenize
//   ──> the calling thread: writes the batches strictly in input order to the builders.
// At most `2 * workers + 2` batches exist at once, so memory does not grow with the input.
//
// Partitions reproduce Megatron's document order without its intermediate files: with
// round-robin partitions, output partition p holds input lines p, p+N, p+2N, ... (counted across
// all input files), and Megatron concatenates the partitions in order, so the input is read once
// per partition and only that partition's lines are encoded in each pass. Contiguous partitions
// (--keep-sequential-samples) concatenate back to the input order: one pass.
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

struct PreprocessOptions {
  std::vector<std::string> inputs;  // read in this order (a resolved --input glob)
  std::string output_prefix;
  std::vector<std::string> json_keys{"text"};
  bool append_eod = false;
  int workers = 1;
  int partitions = 1;
  bool keep_sequential_samples = false;
  int64_t log_interval = 1000;  // progress line every N documents (0: none)
  bool skip_invalid = false;    // skip bad lines (counted) instead of failing
  size_t batch_bytes = 1 << 20;
};

struct PreprocessSummary {
  uint64_t documents = 0;
  uint64_t tokens = 0;  // over all keys
  uint64_t input_bytes = 0;
  uint64_t skipped_lines = 0;
  std::string first_skip_message;
  double seconds = 0;
  std::vector<std::string> output_prefixes;  // one per key
};

// "{output_prefix}_{key}_document" (Megatron's naming; the --data-path of training).
std::string output_prefix_for_key(const std::string& output_prefix, const std::string& key);

// Runs the whole conversion. Bad input throws mcpp::Error("file:line: what") unless
// skip_invalid; on any error no output file is left behind.
PreprocessSummary preprocess(const PreprocessOptions& options, const Tokenizer& tokenizer);

}  // namespace mcpp::data
