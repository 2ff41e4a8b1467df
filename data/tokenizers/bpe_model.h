#pragma once
// The BPE model of Hugging Face `tokenizers`: a vocabulary, ranked merges, and the merge loop
// that turns one pre-token into ids (always merging the lowest-ranked adjacent pair, leftmost
// first). Options cover GPT-2/Llama-3/Qwen byte-level models and SentencePiece-style models with
// byte fallback (Llama-2). Immutable after construction, so `encode` may run on many threads.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/tokenizers/flat_map.h"

namespace mcpp::data {

struct BpeModelOptions {
  bool byte_level = false;     // pieces are raw bytes; the vocabulary spells them in the byte-level alphabet
  bool byte_fallback = false;  // unknown characters become their <0xXX> byte tokens
  bool ignore_merges = false;  // a piece that is itself a token is emitted whole (Llama-3)
  bool fuse_unk = false;       // consecutive unknown characters give one unk id
  std::optional<std::string> unk_token;
};

class BpeModel {
 public:
  using Vocab = std::vector<std::pair<std::string, int32_t>>;
  using Merges = std::vector<std::pair<std::string, std::string>>;

  // Throws mcpp::Error naming `source` when a merge or the unk token is not in the vocabulary.
  BpeModel(const Vocab& vocab, const Merges& merges, BpeModelOptions options,
           const std::string& source);

  // Appends the ids of one pre-token (raw bytes for byte-level models, else normalized text).
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  // Id of a token as spelled in the vocabulary, or -1.
  int32_t id_of(std::string_view token) const { return token_ids_.find(token); }

  // The vocabulary spelling of `id`, or nullptr when no token has that id.
  const std::string* token_of(int32_t id) const;

  // Number of vocabulary entries.
  int64_t size() const { return int64_t(token_ids_.size()); }

  bool byte_level() const { return options_.byte_level; }

  // True when `mark` (SentencePiece's "▁") is a token and occurs inside tokens only at their
  // start or after another `mark`. Then no merge joins anything to a `mark` that follows another
  // character, so text may be cut before each such `mark` without changing the result: Llama-2's
  // whole documents become words, which the piece cache can keep. Always false for byte-level
  // models and with ignore_merges (which looks at whole pieces).
  bool starts_words(std::string_view mark) const;

 private:
  void initial_symbols(std::string_view piece, std::vector<int32_t>& ids) const;
  void merge(std::vector<int32_t>& ids) const;

  BpeModelOptions options_;
  int32_t unk_id_ = -1;
  StringIdMap token_ids_;              // vocabulary spelling -> id
  StringIdMap raw_ids_;                // byte-level models: raw bytes -> id (for ignore_merges)
  std::vector<std::string> tokens_;    // id -> spelling
  std::vector<bool> has_token_;
  U64Map merges_;                      // (left << 32 | right) -> (rank << 32 | merged id)
  U64Map char_ids_;                    // code point -> id of the one-character token
  int32_t ascii_ids_[128];             // fast path of char_ids_
  int32_t byte_ids_[256];              // byte-level: byte -> id of its alphabet character
  int32_t fallback_ids_[256];          // byte_fallback: byte -> id of <0xXX>, -1 if absent
};

}  // namespace mcpp::data
