#pragma once
// Turns JSONL lines into documents the way Megatron's preprocess_data.py Encoder does: per
// --json-keys key, each sentence (the string, or each element of a list) is tokenized, sentences
// with no tokens are dropped, and --append-eod adds the EOD id to the last sentence of a
// non-empty document. Results accumulate in an EncodedBatch, ready for the dataset builders.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/preprocess/json_line.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

// Documents of consecutive lines, per key.
struct EncodedKey {
  std::vector<int32_t> tokens;             // all documents back to back
  std::vector<int32_t> sequence_lengths;   // all sequences back to back
  std::vector<uint32_t> sequences_per_document;
};

struct EncodedBatch {
  std::vector<EncodedKey> keys;
  uint64_t documents = 0;
  uint64_t input_bytes = 0;  // bytes of the lines, newlines included
  uint64_t skipped_lines = 0;
  std::string first_skip_message;  // "file:line: what" of the first skipped line
  std::string error;               // "file:line: what"; the batch stops at the first error
};

class DocumentEncoder {
 public:
  DocumentEncoder(const Tokenizer& tokenizer, std::vector<std::string> keys, bool append_eod);

  // Encodes one line into `out`. On bad input, throws mcpp::Error("what") and leaves `out`
  // exactly as it was before the call.
  void encode(std::string_view line, EncodedBatch& out);

 private:
  const Tokenizer& tokenizer_;
  JsonLineParser parser_;
  bool append_eod_;
};

}  // namespace mcpp::data
