#pragma once
// The tokenizer interface shared by preprocess, the datasets, megatron-train and generate.
// Semantics follow Megatron's tokenizer classes (megatron/core/tokenizers): `encode` is what
// Megatron's `tokenizer.tokenize(text)` returns, `eod()` its `tokenizer.eod`, `vocab_size()` its
// `tokenizer.vocab_size` (before padding to --make-vocab-size-divisible-by).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpp::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Appends the ids of `text` (valid UTF-8) to `out`. Thread-safe: many workers call it at once
  // on one shared tokenizer, so implementations keep per-thread caches, not a global lock.
  virtual void encode(std::string_view text, std::vector<int32_t>& out) const = 0;

  std::vector<int32_t> encode(std::string_view text) const {
    std::vector<int32_t> ids;
    encode(text, ids);
    return ids;
  }

  // Text of `ids` (Hugging Face's decode with skip_special_tokens=false).
  virtual std::string decode(std::span<const int32_t> ids) const = 0;

  // Number of ids (Megatron's tokenizer.vocab_size; for Hugging Face files len(tokenizer),
  // added tokens included).
  virtual int64_t vocab_size() const = 0;

  // End-of-document id appended by --append-eod.
  virtual int32_t eod() const = 0;

  // Pad id when the tokenizer has one (used by the GPT dataset for the final partial sample).
  virtual std::optional<int32_t> pad() const { return std::nullopt; }

  // A short JSON-able description identifying the tokenizer (type and files), used in dataset
  // cache keys the way Megatron uses tokenizer.unique_identifiers.
  virtual std::string description() const = 0;
};

// Megatron's tokenizer flags (--tokenizer-type and friends).
struct TokenizerOptions {
  std::string type;               // GPT2BPETokenizer, HuggingFaceTokenizer, NullTokenizer, SentencePieceTokenizer
  std::string tokenizer_model;    // HF: directory with tokenizer.json (+ tokenizer_config.json) or the file
  std::string vocab_file;         // GPT2BPETokenizer: vocab.json
  std::string merge_file;         // GPT2BPETokenizer: merges.txt
  std::optional<int64_t> vocab_size;       // NullTokenizer
  std::optional<int32_t> null_eod_id;      // NullTokenizer
};

// Builds the tokenizer named by `options.type`; throws mcpp::Error with a one-line message naming
// the flag or file when something is missing or malformed.
std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerOptions& options);

}  // namespace mcpp::data
