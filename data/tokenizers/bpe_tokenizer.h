#pragma once
// A BPE tokenizer run as Hugging Face `tokenizers` runs one: split out added tokens, normalize,
// pre-tokenize, apply the BPE model to each pre-token, wrap with the post-processor's special
// tokens. GPT2BPETokenizer (vocab.json + merges.txt) and HuggingFaceTokenizer (tokenizer.json)
// are both this class, built from their files by different loaders.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/tokenizers/added_tokens.h"
#include "data/tokenizers/bpe_model.h"
#include "data/tokenizers/decoder.h"
#include "data/tokenizers/split_pattern.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

class PieceCache;

struct NormalizeStep {
  enum class Kind { kNfc, kPrepend, kReplace };
  Kind kind;
  std::string text;         // kPrepend: what to prepend; kReplace: the string to replace
  std::string replacement;  // kReplace
};

// One pre-tokenizer of a chain: optionally prefix each incoming piece with a space (ByteLevel's
// add_prefix_space), then optionally cut it with a regex.
struct PreTokenizeStep {
  bool add_prefix_space = false;
  std::shared_ptr<const SplitPattern> pattern;
};

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool normalized = false;  // matched in the normalized text instead of the input
};

struct BpePipeline {
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizeStep> normalizers;
  std::vector<PreTokenizeStep> pre_tokenizers;
  std::unique_ptr<BpeModel> model;
  std::vector<int32_t> prefix_ids;  // post-processor: ids before the text's ids ...
  std::vector<int32_t> suffix_ids;  // ... and after them
  Decoder decoder;
  int64_t vocab_size = 0;
  std::optional<int32_t> eod;
  std::string eod_missing_message;  // why there is no eod, when there is none
  std::optional<int32_t> pad;
  std::string description;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpePipeline pipeline);

  using Tokenizer::encode;
  void encode(std::string_view text, std::vector<int32_t>& out) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override { return p_.vocab_size; }
  int32_t eod() const override;
  std::optional<int32_t> pad() const override { return p_.pad; }
  std::string description() const override { return p_.description; }

 private:
  // One stretch of input between added tokens.
  void encode_segment(std::string_view segment, PieceCache& cache, std::vector<int32_t>& out) const;
  // One stretch of normalized text between normalized added tokens.
  void encode_normalized(std::string_view text, PieceCache& cache, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, PieceCache& cache, std::vector<int32_t>& out) const;

  BpePipeline p_;
  AddedTokenMatcher raw_added_;         // added tokens matched before normalization
  AddedTokenMatcher normalized_added_;  // ... and after it
  std::vector<std::string> added_by_id_;  // for decoding; empty where no added token
  uint64_t cache_serial_;
  std::string word_start_;  // without pre-tokenizer: cut text before this mark (see BpeModel::starts_words)
};

}  // namespace mcpp::data
