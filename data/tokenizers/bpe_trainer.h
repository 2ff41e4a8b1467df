#pragma once
// Training a byte-level BPE vocabulary (GPT-2 style) and writing it in Hugging Face
// tokenizer.json format.
//
// Words are the pre-tokens of GPT-2's ByteLevel regex; every word starts as its bytes, one base
// symbol per byte. Each step merges the adjacent symbol pair with the highest count over all
// words (weighted by how often each word occurs); ties go to the pair whose (left id, right id)
// is smallest, as in Hugging Face's BpeTrainer. Counts are updated incrementally: a merge only
// revisits the words that contain its pair.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizers/split_pattern.h"

namespace mcpp::data {

struct BpeTrainerOptions {
  // Size of the final vocabulary, special tokens and the 256 byte symbols included.
  int64_t vocab_size = 0;
  // Pairs seen fewer times than this are never merged (training may then stop early).
  uint64_t min_frequency = 2;
  // Special tokens, given ids 0, 1, ... in this order. Their text is cut out of training text.
  // (A special token spelled like a byte-level symbol takes that symbol's place.)
  std::vector<std::string> special_tokens;
};

// A trained vocabulary. Tokens are their vocabulary text: byte-level mapped bytes
// (byte_level.h), or the text of a special token.
struct TrainedBpe {
  std::vector<std::string> tokens;                   // id -> vocabulary text
  size_t special_count = 0;                          // ids [0, special_count) are special tokens
  std::vector<std::pair<int32_t, int32_t>> merges;   // in priority order: (left id, right id)
  std::vector<int32_t> merge_results;                // id each merge produces
};

class BpeTrainer {
 public:
  // Throws mcpp::Error when the options are inconsistent (vocabulary smaller than its base).
  explicit BpeTrainer(BpeTrainerOptions options);

  // Adds one document (valid UTF-8) to the word counts.
  void add_document(std::string_view text);

  // Number of distinct words counted so far.
  size_t word_count() const { return word_counts_.size(); }

  TrainedBpe train() const;

 private:
  void add_words(std::string_view text);

  BpeTrainerOptions options_;
  std::unique_ptr<SplitPattern> split_;
  std::unordered_map<std::string, uint64_t> word_counts_;
};

// tokenizer.json (Hugging Face format: BPE model, ByteLevel pre-tokenizer, post-processor and
// decoder like GPT-2's file, special tokens as added_tokens).
std::string trained_bpe_tokenizer_json(const TrainedBpe& bpe);

// tokenizer_config.json naming the first special token as eos_token and bos_token.
std::string trained_bpe_tokenizer_config_json(const TrainedBpe& bpe);

}  // namespace mcpp::data
